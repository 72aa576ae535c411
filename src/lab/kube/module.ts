import { join } from 'node:path';
import type { LabModule } from '../module.js';
import { kubeNode } from '../talos/target.js';
import { emptyTalosState, TALOS_STATE, type TalosState } from '../talos/state.js';
import { readState, writeLabFile, writeState } from '../lab-dir.js';
import type { KObject } from './object.js';
import { seedKubeState } from './seed.js';
import { startKubeServer } from './server.js';
import { STATE_NAME, emptyKubeState, type KubeState } from './store.js';

/** The lab API server's certificate (its own CA), rewritten at every start. */
export function kubeCaPath(lab: string): string {
  return join(lab, 'kube-ca.crt');
}

function ready(o: KObject): string {
  return `${Number(o.status?.readyReplicas ?? 0)}/${Number(o.spec?.replicas ?? 0)}`;
}

/**
 * The lab Kubernetes API server: one server on 127.0.0.1 for every cluster name, that the real
 * kubectl (and the helm/talos stand-ins, over REST) talk to. State: <lab>/state/kube.json.
 *
 * Other lab parts use plain HTTP on services.json `urls.kubernetes` with JSON bodies:
 *   POST   /api/v1/namespaces | /api/v1/nodes | /api/v1/namespaces/<ns>/<secrets|configmaps|services|pods|...>
 *   POST   /apis/apps/v1/namespaces/<ns>/<deployments|statefulsets|daemonsets>   201, or 409 AlreadyExists
 *   PATCH  <object path>?fieldManager=<name>  Content-Type application/apply-patch+yaml (server-side
 *          apply, creates: 201/200), application/merge-patch+json or application/strategic-merge-patch+json
 *   PATCH  <object path>/status (node conditions), PATCH <deployment path>/scale {"spec":{"replicas":N}}
 *   DELETE <object path>   (owned ReplicaSets/pods are garbage-collected; pods terminate after ~1 s)
 *   GET    <object path> / <collection>?labelSelector=&fieldSelector=  (poll status for readiness)
 * kubectl must use `urls.kubernetes_https` with certificate-authority <lab>/kube-ca.crt: it only sends
 * credentials (the token naming the calling action) over TLS.
 */
/**
 * Every member of a bootstrapped Talos cluster has a Node, as its kubelet would register it.
 * Matters after a crash: a talosctl that joined a node while cortex died could not reach the
 * (dead) API server to register it.
 */
async function registerTalosMembers(lab: string, url: string): Promise<void> {
  const talos = readState<TalosState>(lab, TALOS_STATE, emptyTalosState);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  for (const c of Object.values(talos.clusters ?? {})) {
    if (!c.bootstrapped) continue;
    for (const n of c.nodes) {
      try {
        await fetch(`${url}/api/v1/nodes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(kubeNode(c, n, now)) });
      } catch {
        // best effort: the lab still starts
      }
    }
  }
}

export const kubeModule: LabModule = {
  name: 'kube',
  seed(lab) {
    writeState(lab, STATE_NAME, seedKubeState());
  },
  async start(lab) {
    const server = await startKubeServer(lab);
    // kubectl sends its credentials (the exec plugin's action token) only over TLS: the kubeconfig
    // should use kubernetes_https with certificate-authority <lab>/kube-ca.crt. REST clients can use
    // plain http on the same port.
    writeLabFile(kubeCaPath(lab), server.certificate!.cert);
    await registerTalosMembers(lab, server.url);
    return { urls: { kubernetes: server.url, kubernetes_https: server.httpsUrl }, stop: () => server.stop() };
  },
  describe(lab) {
    const s = readState<KubeState>(lab, STATE_NAME, emptyKubeState);
    const all = (key: string) => Object.values(s.objects?.[key] ?? {});
    const pods = all('pods');
    return {
      resource_version: s.resourceVersion,
      namespaces: all('namespaces').map((n) => n.metadata.name),
      nodes: all('nodes').map((n) => ({
        name: n.metadata.name,
        cluster: n.metadata.labels?.['cortex.dev/cluster'] ?? null,
        ready: ((n.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === 'Ready' && c.status === 'True'),
        cordoned: Boolean(n.spec?.unschedulable),
        pods: pods.filter((p) => p.spec?.nodeName === n.metadata.name).length,
      })),
      deployments: all('deployments.apps').map((d) => `${d.metadata.namespace}/${d.metadata.name} ${ready(d)} rev ${d.metadata.annotations?.['deployment.kubernetes.io/revision'] ?? '-'}`),
      statefulsets: all('statefulsets.apps').map((d) => `${d.metadata.namespace}/${d.metadata.name} ${ready(d)}`),
      daemonsets: all('daemonsets.apps').map((d) => `${d.metadata.namespace}/${d.metadata.name} ${Number(d.status?.numberReady ?? 0)}/${Number(d.status?.desiredNumberScheduled ?? 0)}`),
      pods: pods.length,
      network_policies: all('networkpolicies.networking.k8s.io').map((p) => `${p.metadata.namespace}/${p.metadata.name}`),
    };
  },
};
