/**
 * talos-contractor actions with the REAL kubectl against the lab API server: what the actions
 * send, real kubectl and the lab's validation accept or refuse as a cluster would (the forensic
 * drain around emptyDir and bare pods, isolation of a pod whose policy name is over 63 characters).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpawnProcessRunner } from '../../../../src/adapters/spawn-process-runner.js';
import type { ActionImpl } from '../../../../src/contractors/action-impl.js';
import { IMPLEMENTATIONS } from '../../../../src/contractors/talos/index.js';
import { TALOS_SPECS } from '../../../../src/contractors/talos/specs.js';
import { ActionFailedError } from '../../../../src/errors.js';
import { mustResource } from '../../../../src/lab/kube/resources.js';
import { NODE_DEBUGGER_POD } from '../../../../src/lab/kube/seed.js';
import { labelSelectorRequirements, matchesRequirements } from '../../../../src/lab/kube/selectors.js';
import { fakeDeps } from '../../../fakes/fakes.js';
import { fsFilePorts, makeRuntime } from '../../contractors/runtime-helper.js';
import { deploymentYaml, HAS_KUBECTL, startLabKube, waitFor, type LabKube } from './kube-helper.js';

describe.skipIf(!HAS_KUBECTL)('talos-contractor actions, real kubectl, lab API server', () => {
  let k: LabKube;
  let n = 0;

  beforeAll(async () => {
    k = await startLabKube();
  });
  afterAll(async () => {
    await k?.stop();
  });

  async function act(name: string, params: Record<string, unknown>): Promise<Record<string, unknown>> {
    const spec = TALOS_SPECS.find((s) => s.name === name)!;
    const impl = await (IMPLEMENTATIONS[name] as () => Promise<ActionImpl>)();
    const root = mkdtempSync(join(tmpdir(), 'talos-lab-root-'));
    const actionId = `${name.replace(/_/g, '-')}-${++n}`;
    const deps = fakeDeps({ runner: new SpawnProcessRunner({ baseEnv: k.env(), killGraceMs: 500 }), ...fsFilePorts(root) });
    const { rt } = makeRuntime(params, { spec, deps, root, actionId, config: { clusters: { 'prod-k8s-01': { kubeconfig: k.kubeconfigFor(actionId) } } } });
    return impl.run(rt);
  }

  const podsOn = (node: string) => k.server.store.scan('pods').filter((p) => p.spec?.nodeName === node && !p.metadata.deletionTimestamp);

  it('drain_node with preserve_forensics evicts what it can and leaves (and lists) the emptyDir and bare pods', async () => {
    // a plain workload on the node, next to the seeded emptyDir (web-api) and bare (node-debugger) pods
    const pinned = deploymentYaml('forensic-probe', 'production', 'example/probe:1', 1, "      nodeSelector: {kubernetes.io/hostname: k8s-worker-02}\n");
    expect((await k.kubectl(['apply', '--server-side', '-f', '-'], { stdin: pinned })).code).toBe(0);
    const probe = await waitFor(() => podsOn('k8s-worker-02').find((p) => p.metadata.name.startsWith('forensic-probe-') && p.status?.phase === 'Running'), {
      what: 'a running forensic-probe pod on k8s-worker-02',
    });
    const web = podsOn('k8s-worker-02').find((p) => p.metadata.name.startsWith('web-api-'))!;

    const out = await act('drain_node', { cluster: 'prod-k8s-01', node: 'k8s-worker-02', ignore_daemonsets: true, delete_emptydir_data: false, preserve_forensics: true, timeout_seconds: 60 });

    expect(out.evicted).toEqual([`production/${probe.metadata.name}`]);
    expect(out.evacuated_pods).toBe(1);
    expect(out.left_pods).toEqual(
      expect.arrayContaining([
        { pod: `production/${web.metadata.name}`, reason: 'emptyDir data' },
        { pod: `default/${NODE_DEBUGGER_POD}`, reason: 'no controller' },
      ]),
    );
    expect((out.left_pods as unknown[]).length).toBe(2);
    // the evidence is still there, marked; the node stays cordoned
    const left = podsOn('k8s-worker-02').filter((p) => !p.metadata.name.startsWith('node-exporter-'));
    expect(left.map((p) => p.metadata.name).sort()).toEqual([NODE_DEBUGGER_POD, web.metadata.name].sort());
    expect(left.every((p) => p.metadata.labels?.['cortex.dev/forensic-hold'] === 'true')).toBe(true);
    expect(k.server.store.peek('nodes', undefined, 'k8s-worker-02')!.spec.unschedulable).toBe(true);
    expect(out.was_cordoned).toBe(false);

    // a plain drain of the same node is refused by kubectl: a clear, non-retryable error
    let refused: unknown;
    try {
      await act('drain_node', { cluster: 'prod-k8s-01', node: 'k8s-worker-02', timeout_seconds: 30 });
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(ActionFailedError);
    expect([(refused as ActionFailedError).errorCode, (refused as ActionFailedError).retryable]).toEqual(['node_drain_refused', false]);

    expect((await k.kubectl(['uncordon', 'k8s-worker-02'])).code).toBe(0);
    k.server.api.delete(mustResource('deployments.apps'), 'production', 'forensic-probe');
  });

  it('isolating a pod whose policy name is over 63 characters: a short label value the policy selects, the name in an annotation', async () => {
    // a pod name as long as real ones get (kube-prometheus-stack's node exporter): cortex-isolate-<pod> is 67 characters
    const podName = 'kube-prometheus-stack-prometheus-node-exporter-x8z2k';
    k.server.api.create(mustResource('pods'), 'production', { apiVersion: 'v1', kind: 'Pod', metadata: { name: podName, namespace: 'production', labels: { app: 'node-exporter' } }, spec: { containers: [{ name: 'c', image: 'example/x:1' }] } });
    const policyName = `cortex-isolate-${podName}`;
    const out = await act('apply_network_policy', {
      cluster: 'prod-k8s-01',
      namespace: 'production',
      policy_name: policyName,
      target_selector: { pod: podName },
      ingress_rules: [],
      egress_rules: [{ to: [{ dns_selector: true }], ports: [{ port: 53, protocol: 'UDP' }] }],
    });
    expect(out).toMatchObject({ policies: [`production/${policyName}`], labelled_pods: [`production/${podName}`] });
    const pod = k.server.store.peek('pods', 'production', podName)!;
    const value = pod.metadata.labels!['cortex.dev/isolate']!;
    expect(value.length).toBeLessThanOrEqual(63);
    expect(out.isolation_label).toBe(`cortex.dev/isolate=${value}`);
    expect(pod.metadata.annotations!['cortex.dev/isolate-policy']).toBe(policyName);
    const policy = k.server.store.peek('networkpolicies.networking.k8s.io', 'production', policyName)!;
    const selected = matchesRequirements(pod.metadata.labels, labelSelectorRequirements(policy.spec.podSelector));
    expect([policy.spec.podSelector, selected]).toEqual([{ matchLabels: { 'cortex.dev/isolate': value } }, true]);
    // no other pod is caught by the selector
    expect(k.server.store.scan('pods', 'production').filter((p) => matchesRequirements(p.metadata.labels, labelSelectorRequirements(policy.spec.podSelector))).map((p) => p.metadata.name)).toEqual([podName]);

    // the rollback finds the same label, and removes it and the annotation
    expect(await act('delete_network_policy', { cluster: 'prod-k8s-01', policy_name: policyName, namespaces: ['production'] })).toEqual({ deleted: [`production/${policyName}`] });
    const after = k.server.store.peek('pods', 'production', podName)!;
    expect([after.metadata.labels?.['cortex.dev/isolate'], after.metadata.annotations?.['cortex.dev/isolate-policy']]).toEqual([undefined, undefined]);
    expect(k.server.store.peek('networkpolicies.networking.k8s.io', 'production', policyName)).toBeUndefined();
  });
});
