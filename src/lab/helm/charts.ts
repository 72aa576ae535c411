import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import type { MinimalObject } from '../talos/kube-api.js';

export interface ChartInfo {
  name: string;
  version: string;
  appVersion: string;
  description: string;
}

const KNOWN: Record<string, Omit<ChartInfo, 'name'>> = {
  'kube-prometheus-stack': { version: '55.5.0', appVersion: 'v0.70.0', description: 'kube-prometheus-stack collects Kubernetes manifests, Grafana dashboards, and Prometheus rules combined with documentation and scripts to provide easy to operate end-to-end Kubernetes cluster monitoring with Prometheus using the Prometheus Operator.' },
  cilium: { version: '1.14.5', appVersion: '1.14.5', description: 'eBPF-based Networking, Security, and Observability' },
  'ingress-nginx': { version: '4.9.0', appVersion: '1.9.5', description: 'Ingress controller for Kubernetes using NGINX as a reverse proxy and load balancer' },
  'cert-manager': { version: 'v1.13.3', appVersion: 'v1.13.3', description: 'A Helm chart for cert-manager' },
  'ceph-csi-rbd': { version: '3.10.1', appVersion: '3.10.1', description: 'Container Storage Interface (CSI) driver, provisioner, snapshotter, and attacher for Ceph RBD' },
};

/** The chart name of a reference: `repo/name`, `oci://host/path/name:tag`, a path, or a bare name with --repo. */
export function chartNameOf(ref: string): string {
  const last = ref.replace(/\/+$/, '').split('/').pop() ?? ref;
  return last.replace(/:[^:]*$/, '').replace(/\.tgz$/, '').replace(/-v?\d+\.\d+\.\d+.*$/, '');
}

/** Resolves a chart like helm would (the lab pretends every repository exists); throws helm's error text. */
export function resolveChart(ref: string, repo: string | undefined, version: string | undefined, cwd: string): ChartInfo {
  const local = /^(\.|\/)/.test(ref) || existsSync(resolve(cwd, ref));
  if (local) {
    const dir = resolve(cwd, ref);
    if (!existsSync(dir)) throw new Error(`path "${ref}" not found`);
    const chartYaml = statSync(dir).isDirectory() ? join(dir, 'Chart.yaml') : undefined;
    if (chartYaml && existsSync(chartYaml)) {
      const meta = (parse(readFileSync(chartYaml, 'utf8')) ?? {}) as Partial<ChartInfo>;
      return { name: meta.name ?? chartNameOf(ref), version: String(meta.version ?? '0.1.0'), appVersion: String(meta.appVersion ?? meta.version ?? '0.1.0'), description: meta.description ?? '' };
    }
    return { name: chartNameOf(ref), version: version ?? '0.1.0', appVersion: version ?? '0.1.0', description: '' };
  }
  if (!repo && !ref.includes('/')) throw new Error(`non-absolute URLs should be in form of repo_name/path_to_chart, got: ${ref}`);
  const name = chartNameOf(ref);
  const known = KNOWN[name];
  const v = version?.replace(/^[~^]/, '') ?? known?.version ?? '1.0.0';
  const sameVersionApp = name === 'cilium' || name === 'cert-manager' || name === 'ceph-csi-rbd';
  return { name, version: v, appVersion: known ? (sameVersionApp ? v : known.appVersion) : v, description: known?.description ?? `A Helm chart for ${name}` };
}

function get(values: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), values);
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

function labelsMap(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, String(x)]));
  return Object.keys(out).length > 0 ? out : undefined;
}

/** helm's `<chart>.fullname`: the release name when it contains the chart name, else `<release>-<chart>`. */
export function fullname(release: string, chart: string): string {
  return (release.includes(chart) ? release : `${release}-${chart}`).slice(0, 63).replace(/-+$/, '');
}

interface Workload {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  name: string;
  component: string;
  image: string;
  replicas?: number;
  port?: number;
  nodeSelector?: Record<string, string>;
  tolerateAll?: boolean;
  serviceName?: string;
}

interface Svc {
  name: string;
  component: string;
  port: number;
  targetPort?: number;
  type?: string;
  nodePorts?: Array<[string, number, number | undefined]>;
  headless?: boolean;
}

/** Renders the objects the lab creates for a chart (the workloads and services of the real chart). */
export function renderChart(chart: ChartInfo, release: string, namespace: string, values: Record<string, unknown>): MinimalObject[] {
  const common = (component: string) => ({
    'app.kubernetes.io/name': component,
    'app.kubernetes.io/instance': release,
    'app.kubernetes.io/managed-by': 'Helm',
    'app.kubernetes.io/version': chart.appVersion,
    'helm.sh/chart': `${chart.name}-${chart.version}`,
  });
  const annotations = { 'meta.helm.sh/release-name': release, 'meta.helm.sh/release-namespace': namespace };
  const selector = (component: string) => ({ 'app.kubernetes.io/name': component, 'app.kubernetes.io/instance': release });
  const workloads: Workload[] = [];
  const services: Svc[] = [];
  const fn = fullname(release, chart.name);
  switch (chart.name) {
    case 'kube-prometheus-stack': {
      if (get(values, 'grafana.enabled') !== false) {
        workloads.push({ kind: 'Deployment', name: `${release}-grafana`, component: 'grafana', image: 'docker.io/grafana/grafana:10.2.2', replicas: num(get(values, 'grafana.replicas'), 1), port: 3000, ...(labelsMap(get(values, 'grafana.nodeSelector')) ? { nodeSelector: labelsMap(get(values, 'grafana.nodeSelector')) } : {}) });
        services.push({ name: `${release}-grafana`, component: 'grafana', port: 80, targetPort: 3000 });
      }
      workloads.push({ kind: 'Deployment', name: `${release}-operator`, component: 'kube-prometheus-stack-prometheus-operator', image: 'quay.io/prometheus-operator/prometheus-operator:v0.70.0', replicas: 1, port: 10250 });
      services.push({ name: `${release}-operator`, component: 'kube-prometheus-stack-prometheus-operator', port: 443, targetPort: 10250 });
      workloads.push({ kind: 'Deployment', name: `${release}-kube-state-metrics`, component: 'kube-state-metrics', image: 'registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.10.1', replicas: 1, port: 8080 });
      services.push({ name: `${release}-kube-state-metrics`, component: 'kube-state-metrics', port: 8080 });
      const promSel = labelsMap(get(values, 'prometheus.prometheusSpec.nodeSelector'));
      workloads.push({ kind: 'StatefulSet', name: `prometheus-${release}-prometheus`, component: 'prometheus', image: 'quay.io/prometheus/prometheus:v2.48.1', replicas: num(get(values, 'prometheus.prometheusSpec.replicas'), 1), port: 9090, serviceName: 'prometheus-operated', ...(promSel ? { nodeSelector: promSel } : {}) });
      services.push({ name: `${release}-prometheus`, component: 'prometheus', port: 9090 }, { name: 'prometheus-operated', component: 'prometheus', port: 9090, headless: true });
      if (get(values, 'alertmanager.enabled') !== false) {
        const amSel = labelsMap(get(values, 'alertmanager.alertmanagerSpec.nodeSelector'));
        workloads.push({ kind: 'StatefulSet', name: `alertmanager-${release}-alertmanager`, component: 'alertmanager', image: 'quay.io/prometheus/alertmanager:v0.26.0', replicas: num(get(values, 'alertmanager.alertmanagerSpec.replicas'), 1), port: 9093, serviceName: 'alertmanager-operated', ...(amSel ? { nodeSelector: amSel } : {}) });
        services.push({ name: `${release}-alertmanager`, component: 'alertmanager', port: 9093 }, { name: 'alertmanager-operated', component: 'alertmanager', port: 9093, headless: true });
      }
      break;
    }
    case 'cilium':
      workloads.push({ kind: 'DaemonSet', name: 'cilium', component: 'cilium-agent', image: `quay.io/cilium/cilium:v${chart.version.replace(/^v/, '')}`, tolerateAll: true });
      workloads.push({ kind: 'Deployment', name: 'cilium-operator', component: 'cilium-operator', image: `quay.io/cilium/operator-generic:v${chart.version.replace(/^v/, '')}`, replicas: num(get(values, 'operator.replicas'), 2), tolerateAll: true });
      break;
    case 'ingress-nginx': {
      const kind = get(values, 'controller.kind') === 'DaemonSet' ? 'DaemonSet' : 'Deployment';
      workloads.push({ kind, name: `${fn}-controller`, component: 'ingress-nginx', image: 'registry.k8s.io/ingress-nginx/controller:v1.9.5', replicas: num(get(values, 'controller.replicaCount'), 1), port: 80 });
      const type = String(get(values, 'controller.service.type') ?? 'LoadBalancer');
      services.push({
        name: `${fn}-controller`,
        component: 'ingress-nginx',
        port: 80,
        type,
        nodePorts: [
          ['http', 80, num(get(values, 'controller.service.nodePorts.http'), 0) || undefined],
          ['https', 443, num(get(values, 'controller.service.nodePorts.https'), 0) || undefined],
        ],
      });
      services.push({ name: `${fn}-controller-admission`, component: 'ingress-nginx', port: 443, targetPort: 8443 });
      break;
    }
    case 'cert-manager': {
      const v = chart.appVersion.replace(/^v?/, 'v');
      workloads.push({ kind: 'Deployment', name: fn, component: 'cert-manager', image: `quay.io/jetstack/cert-manager-controller:${v}`, replicas: num(get(values, 'replicaCount'), 1), port: 9402 });
      workloads.push({ kind: 'Deployment', name: `${fn}-cainjector`, component: 'cainjector', image: `quay.io/jetstack/cert-manager-cainjector:${v}`, replicas: 1 });
      workloads.push({ kind: 'Deployment', name: `${fn}-webhook`, component: 'webhook', image: `quay.io/jetstack/cert-manager-webhook:${v}`, replicas: 1, port: 10250 });
      services.push({ name: fn, component: 'cert-manager', port: 9402 }, { name: `${fn}-webhook`, component: 'webhook', port: 443, targetPort: 10250 });
      break;
    }
    case 'ceph-csi-rbd':
      workloads.push({ kind: 'Deployment', name: `${fn}-provisioner`, component: 'ceph-csi-rbd', image: `quay.io/cephcsi/cephcsi:v${chart.appVersion.replace(/^v/, '')}`, replicas: num(get(values, 'provisioner.replicaCount'), 2) });
      workloads.push({ kind: 'DaemonSet', name: `${fn}-nodeplugin`, component: 'ceph-csi-rbd-nodeplugin', image: `quay.io/cephcsi/cephcsi:v${chart.appVersion.replace(/^v/, '')}`, tolerateAll: true });
      break;
    default: {
      const repo = get(values, 'image.repository');
      const tag = get(values, 'image.tag');
      const image = typeof repo === 'string' ? `${repo}:${typeof tag === 'string' || typeof tag === 'number' ? String(tag) : chart.appVersion}` : 'docker.io/library/nginx:1.25';
      const port = num(get(values, 'service.targetPort') ?? get(values, 'containerPort'), 8080);
      workloads.push({ kind: 'Deployment', name: release, component: chart.name, image, replicas: num(get(values, 'replicaCount'), 1), port });
      const nodePort = num(get(values, 'service.nodePort'), 0);
      services.push({ name: release, component: chart.name, port: num(get(values, 'service.port'), 80), targetPort: port, type: String(get(values, 'service.type') ?? 'ClusterIP'), ...(nodePort ? { nodePorts: [['http', num(get(values, 'service.port'), 80), nodePort]] } : {}) });
    }
  }
  const objects: MinimalObject[] = [];
  for (const s of services) {
    const ports = s.nodePorts
      ? s.nodePorts.map(([name, port, nodePort]) => ({ name, port, targetPort: name, protocol: 'TCP', ...(nodePort && s.type !== 'ClusterIP' ? { nodePort } : {}) }))
      : [{ name: 'http', port: s.port, targetPort: s.targetPort ?? s.port, protocol: 'TCP' }];
    objects.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: s.name, namespace, labels: common(s.component), annotations },
      spec: { type: s.type ?? 'ClusterIP', ...(s.headless ? { clusterIP: 'None' } : {}), selector: selector(s.component), ports },
    });
  }
  for (const w of workloads) {
    const podSpec: Record<string, unknown> = {
      containers: [{ name: w.component.replace(/^kube-prometheus-stack-/, ''), image: w.image, ...(w.port ? { ports: [{ name: 'http', containerPort: w.port, protocol: 'TCP' }] } : {}), resources: {} }],
      ...(w.nodeSelector ? { nodeSelector: w.nodeSelector } : {}),
      ...(w.tolerateAll ? { tolerations: [{ operator: 'Exists' }] } : {}),
    };
    const template = { metadata: { labels: { ...common(w.component) } }, spec: podSpec };
    const spec: Record<string, unknown> = { selector: { matchLabels: selector(w.component) }, template };
    if (w.kind !== 'DaemonSet') spec.replicas = w.replicas ?? 1;
    if (w.kind === 'StatefulSet') spec.serviceName = w.serviceName ?? w.name;
    objects.push({ apiVersion: 'apps/v1', kind: w.kind, metadata: { name: w.name, namespace, labels: common(w.component), annotations }, spec });
  }
  return objects;
}
