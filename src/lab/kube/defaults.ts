/**
 * What the API server's registry strategies do on write: defaulting (the fields a real server
 * fills in), validation of the fields the lab depends on, immutable fields, and which kinds bump
 * metadata.generation on spec changes.
 */
import { clone, invalid, isPlainObject, type KObject } from './object.js';
import type { ResourceDef } from './resources.js';
import { labelSelectorRequirements, matchesRequirements } from './selectors.js';
import { errorBody, isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, validateLabels, validateLabelSelector, validateMetaMaps, type FieldError } from './validation.js';


/** Kinds whose spec changes bump metadata.generation (the lab's rollout logic relies on it). */
export function usesGeneration(r: ResourceDef): boolean {
  return !['pods', 'nodes', 'namespaces', 'events', 'secrets', 'configmaps', 'endpoints', 'serviceaccounts'].includes(r.resource);
}

/** Kinds whose status is owned by the server (main-resource writes keep the stored status). */
export function hasStatusSubresource(r: ResourceDef): boolean {
  return r.subresources.some((s) => s.name === 'status');
}

function defaultContainer(c: Record<string, unknown>): void {
  if (typeof c.image === 'string' && c.imagePullPolicy === undefined) {
    const ref = c.image.split('/').pop() ?? '';
    const tag = ref.includes('@') ? 'digest' : ref.includes(':') ? ref.split(':').pop() : 'latest';
    c.imagePullPolicy = tag === 'latest' ? 'Always' : 'IfNotPresent';
  }
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
  if (Array.isArray(c.ports)) for (const p of c.ports) if (isPlainObject(p)) p.protocol ??= 'TCP';
}

/** Pod spec defaults (SetDefaults_PodSpec and friends, trimmed). */
export function defaultPodSpec(spec: Record<string, unknown>): void {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  for (const list of ['containers', 'initContainers']) {
    const cs = spec[list];
    if (Array.isArray(cs)) for (const c of cs) if (isPlainObject(c)) defaultContainer(c);
  }
}

function defaultTemplate(spec: Record<string, unknown>): void {
  const t = spec.template;
  if (isPlainObject(t)) {
    t.metadata ??= {};
    if (isPlainObject(t.spec)) defaultPodSpec(t.spec);
  }
}

let nextServiceIp = 0;

function allocate<T>(used: Set<T>, candidates: () => Generator<T>): T | undefined {
  for (const c of candidates()) if (!used.has(c)) return c;
  return undefined;
}

export interface DefaultContext {
  /** Cluster IPs and node ports already in use (for services). */
  usedClusterIps: Set<string>;
  usedNodePorts: Set<number>;
}

/** Applies the server-side defaults of a kind to a new or updated object (in place). */
export function applyDefaults(r: ResourceDef, obj: KObject, ctx: DefaultContext): void {
  const spec = isPlainObject(obj.spec) ? (obj.spec as Record<string, unknown>) : undefined;
  switch (r.kind) {
    case 'Namespace':
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name };
      obj.spec = { finalizers: ['kubernetes'], ...(spec ?? {}) };
      obj.status ??= { phase: 'Active' };
      break;
    case 'Deployment':
      if (!spec) break;
      spec.replicas ??= 1;
      spec.revisionHistoryLimit ??= 10;
      spec.progressDeadlineSeconds ??= 600;
      spec.strategy ??= { type: 'RollingUpdate' };
      if (isPlainObject(spec.strategy)) {
        spec.strategy.type ??= 'RollingUpdate';
        if (spec.strategy.type === 'RollingUpdate') {
          const ru = (spec.strategy.rollingUpdate ??= {}) as Record<string, unknown>;
          ru.maxUnavailable ??= '25%';
          ru.maxSurge ??= '25%';
        }
      }
      defaultTemplate(spec);
      break;
    case 'ReplicaSet':
      if (!spec) break;
      spec.replicas ??= 1;
      defaultTemplate(spec);
      break;
    case 'StatefulSet':
      if (!spec) break;
      spec.replicas ??= 1;
      spec.podManagementPolicy ??= 'OrderedReady';
      spec.revisionHistoryLimit ??= 10;
      spec.updateStrategy ??= { type: 'RollingUpdate' };
      if (isPlainObject(spec.updateStrategy) && (spec.updateStrategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
        spec.updateStrategy.type = 'RollingUpdate';
        const ru = (spec.updateStrategy.rollingUpdate ??= {}) as Record<string, unknown>;
        ru.partition ??= 0;
      }
      spec.persistentVolumeClaimRetentionPolicy ??= { whenDeleted: 'Retain', whenScaled: 'Retain' };
      defaultTemplate(spec);
      break;
    case 'DaemonSet':
      if (!spec) break;
      spec.revisionHistoryLimit ??= 10;
      spec.updateStrategy ??= { type: 'RollingUpdate' };
      if (isPlainObject(spec.updateStrategy) && (spec.updateStrategy.type ?? 'RollingUpdate') === 'RollingUpdate') {
        spec.updateStrategy.type = 'RollingUpdate';
        const ru = (spec.updateStrategy.rollingUpdate ??= {}) as Record<string, unknown>;
        ru.maxUnavailable ??= 1;
        ru.maxSurge ??= 0;
      }
      defaultTemplate(spec);
      break;
    case 'Job':
      if (!spec) break;
      spec.completions ??= 1;
      spec.parallelism ??= 1;
      spec.backoffLimit ??= 6;
      defaultTemplate(spec);
      break;
    case 'Pod':
      if (!spec) break;
      defaultPodSpec(spec);
      spec.serviceAccountName ??= 'default';
      spec.enableServiceLinks ??= true;
      spec.priority ??= 0;
      spec.preemptionPolicy ??= 'PreemptLowerPriority';
      spec.tolerations ??= [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ];
      break;
    case 'Service':
      defaultService(obj, ctx);
      break;
    case 'Secret':
      obj.type ??= 'Opaque';
      if (isPlainObject(obj.stringData)) {
        const data = (isPlainObject(obj.data) ? obj.data : {}) as Record<string, string>;
        for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
        obj.data = data;
        delete obj.stringData;
      }
      break;
    case 'Node':
      defaultNode(obj);
      break;
    case 'PersistentVolumeClaim':
      if (!spec) break;
      spec.volumeMode ??= 'Filesystem';
      break;
    default:
      break;
  }
}

/** What a kubelet registering its node fills in when the creator left it out (lab stand-ins POST bare Nodes). */
function defaultNode(node: KObject): void {
  const name = node.metadata.name;
  node.metadata.labels = {
    'beta.kubernetes.io/arch': 'amd64',
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64',
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': 'linux',
    ...(node.metadata.labels ?? {}),
  };
  node.spec ??= {};
  const status = (node.status ??= {}) as Record<string, unknown>;
  if (status.conditions === undefined) {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const c = (type: string, value: string, reason: string, message: string) => ({ type, status: value, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
    status.conditions = [
      c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
      c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
      c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
      c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
    ];
  }
  status.addresses ??= [{ type: 'Hostname', address: name }];
  status.capacity ??= { cpu: '4', 'ephemeral-storage': '102687672Ki', 'hugepages-2Mi': '0', memory: '8148204Ki', pods: '110' };
  status.allocatable ??= { cpu: '3950m', 'ephemeral-storage': '94636070773', 'hugepages-2Mi': '0', memory: '7521516Ki', pods: '110' };
  status.daemonEndpoints ??= { kubeletEndpoint: { Port: 10250 } };
  status.nodeInfo ??= {
    machineID: '',
    systemUUID: '',
    bootID: '',
    kernelVersion: '6.1.69-talos',
    osImage: 'Talos (v1.6.1)',
    containerRuntimeVersion: 'containerd://1.7.11',
    kubeletVersion: 'v1.29.1',
    kubeProxyVersion: 'v1.29.1',
    operatingSystem: 'linux',
    architecture: 'amd64',
  };
}

function defaultService(obj: KObject, ctx: DefaultContext): void {
  const spec = (obj.spec ??= {}) as Record<string, unknown>;
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  spec.internalTrafficPolicy ??= 'Cluster';
  if (spec.type !== 'ExternalName') {
    if (spec.clusterIP === undefined || spec.clusterIP === '') {
      const ip = allocate(ctx.usedClusterIps, function* () {
        for (let i = 0; i < 60000; i++) {
          const n = (nextServiceIp + i) % 60000;
          yield `10.96.${Math.floor(n / 250) + 1}.${(n % 250) + 2}`;
        }
      });
      nextServiceIp++;
      if (ip) {
        spec.clusterIP = ip;
        ctx.usedClusterIps.add(ip);
      }
    }
    spec.clusterIPs ??= [spec.clusterIP];
    spec.ipFamilies ??= ['IPv4'];
    spec.ipFamilyPolicy ??= 'SingleStack';
  }
  const needsNodePort = spec.type === 'NodePort' || spec.type === 'LoadBalancer';
  if (needsNodePort) spec.externalTrafficPolicy ??= 'Cluster';
  if (Array.isArray(spec.ports)) {
    for (const p of spec.ports) {
      if (!isPlainObject(p)) continue;
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
      if (needsNodePort && p.nodePort === undefined) {
        const port = allocate(ctx.usedNodePorts, function* () {
          for (let n = 30000; n <= 32767; n++) yield n;
        });
        if (port !== undefined) {
          p.nodePort = port;
          ctx.usedNodePorts.add(port);
        }
      }
    }
  }
  obj.status ??= { loadBalancer: {} };
}

function goMap(m: Record<string, string> | undefined): string {
  return `map[string]string{${Object.entries(m ?? {})
    .map(([k, v]) => `"${k}":"${v}"`)
    .join(', ')}}`;
}

const RBAC_KINDS = new Set(['Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);

/** ValidatePathSegmentName: RBAC names ("system:controller:x") need only be a path segment. */
function pathSegmentName(name: string): string[] {
  if (name === '.' || name === '..') return [`may not be '${name}'`];
  return ['/', '%'].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`);
}

/** The name rule of a kind: namespaces are DNS-1123 labels, services DNS-1035 labels, most others subdomains. */
function nameErrors(kind: string, name: string): string[] {
  if (kind === 'Namespace') return isDNS1123Label(name);
  if (kind === 'Service') return isDNS1035Label(name);
  if (RBAC_KINDS.has(kind)) return pathSegmentName(name);
  return isDNS1123Subdomain(name);
}

/** Selectors and templates whose labels the API server validates, by kind (field paths as its own). */
function nestedLabelErrors(kind: string, spec: Record<string, unknown> | undefined): FieldError[] {
  if (!spec) return [];
  const out: FieldError[] = [];
  const template = (t: unknown, path: string) => out.push(...validateMetaMaps((t as { metadata?: unknown } | undefined)?.metadata, `${path}.metadata`));
  switch (kind) {
    case 'Deployment':
    case 'ReplicaSet':
    case 'StatefulSet':
    case 'DaemonSet':
      out.push(...validateLabelSelector(spec.selector, 'spec.selector'));
      template(spec.template, 'spec.template');
      break;
    case 'Job':
      template(spec.template, 'spec.template');
      break;
    case 'CronJob':
      template((spec.jobTemplate as { spec?: { template?: unknown } } | undefined)?.spec?.template, 'spec.jobTemplate.spec.template');
      break;
    case 'Service':
      out.push(...validateLabels(spec.selector, 'spec.selector'));
      break;
    case 'PodDisruptionBudget':
      out.push(...validateLabelSelector(spec.selector, 'spec.selector'));
      break;
    case 'NetworkPolicy': {
      out.push(...validateLabelSelector(spec.podSelector, 'spec.podSelector'));
      for (const [dir, peersKey] of [['ingress', 'from'], ['egress', 'to']] as const) {
        const rules = Array.isArray(spec[dir]) ? (spec[dir] as Array<Record<string, unknown>>) : [];
        rules.forEach((rule, i) => {
          const peers = Array.isArray(rule?.[peersKey]) ? (rule[peersKey] as Array<Record<string, unknown>>) : [];
          peers.forEach((peer, j) => {
            const at = `spec.${dir}[${i}].${peersKey}[${j}]`;
            out.push(...validateLabelSelector(peer?.podSelector, `${at}.podSelector`), ...validateLabelSelector(peer?.namespaceSelector, `${at}.namespaceSelector`));
          });
        });
      }
      break;
    }
    default:
      break;
  }
  return out;
}

const asCause = (e: FieldError) => ({ field: e.field, message: errorBody(e), type: e.type });

/**
 * Validation a real server would do that the lab's behaviour depends on; throws 422 Invalid.
 * Names, labels, annotations and label selectors follow k8s.io/apimachinery (./validation.ts).
 */
export function validate(r: ResourceDef, obj: KObject, old: KObject | undefined): void {
  const name = obj.metadata.name;
  const causes: { field: string; message: string; type?: string }[] = [];
  if (!name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else for (const m of nameErrors(r.kind, name)) causes.push(asCause({ type: 'FieldValueInvalid', field: 'metadata.name', value: name, detail: m }));
  causes.push(...validateMetaMaps(obj.metadata, 'metadata').map(asCause));
  causes.push(...nestedLabelErrors(r.kind, isPlainObject(obj.spec) ? (obj.spec as Record<string, unknown>) : undefined).map(asCause));
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet'].includes(r.kind)) {
    const sel = spec?.selector;
    const tpl = spec?.template as { metadata?: { labels?: Record<string, string> }; spec?: { containers?: unknown[] } } | undefined;
    if (!isPlainObject(sel)) causes.push({ field: 'spec.selector', message: 'Required value' });
    else {
      const reqs = labelSelectorRequirements(sel);
      if (!reqs.length) causes.push({ field: 'spec.selector', message: 'Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment' });
      else if (!matchesRequirements(tpl?.metadata?.labels, reqs))
        causes.push({ field: 'spec.template.metadata.labels', message: `Invalid value: ${goMap(tpl?.metadata?.labels)}: \`selector\` does not match template \`labels\`` });
      if (old && JSON.stringify(old.spec?.selector) !== JSON.stringify(sel))
        causes.push({ field: 'spec.selector', message: `Invalid value: v1.LabelSelector{MatchLabels:${goMap((sel as { matchLabels?: Record<string, string> }).matchLabels)}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable` });
    }
    const containers = tpl?.spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0) causes.push({ field: 'spec.template.spec.containers', message: 'Required value' });
    else
      containers.forEach((c, i) => {
        const cc = c as { name?: string; image?: string };
        if (!cc.name) causes.push({ field: `spec.template.spec.containers[${i}].name`, message: 'Required value' });
        if (!cc.image) causes.push({ field: `spec.template.spec.containers[${i}].image`, message: 'Required value' });
      });
    const replicas = spec?.replicas;
    if (replicas !== undefined && (typeof replicas !== 'number' || replicas < 0 || !Number.isInteger(replicas)))
      causes.push({ field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` });
  }
  if (r.kind === 'Pod') {
    const containers = spec?.containers;
    if (!Array.isArray(containers) || containers.length === 0) causes.push({ field: 'spec.containers', message: 'Required value' });
    if (old && old.spec?.nodeName && spec?.nodeName !== old.spec.nodeName)
      causes.push({ field: 'spec', message: 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)' });
  }
  if (r.kind === 'Service' && old && old.spec?.clusterIP && spec?.clusterIP && spec.clusterIP !== old.spec.clusterIP)
    causes.push({ field: 'spec.clusterIPs[0]', message: 'Invalid value: []string{...}: may not change once set' });
  if (causes.length) throw invalid(r.kind, r.group, name || '', causes);
}

/** Carries server-owned values over an update: status (for kinds with a status subresource), defaults that a user body omits. */
export function carryOver(r: ResourceDef, old: KObject, next: KObject): void {
  if (hasStatusSubresource(r)) next.status = clone(old.status);
  if (r.kind === 'Service' && isPlainObject(next.spec) && isPlainObject(old.spec)) {
    next.spec.clusterIP ??= old.spec.clusterIP;
    next.spec.clusterIPs ??= old.spec.clusterIPs;
    const oldPorts = Array.isArray(old.spec.ports) ? (old.spec.ports as Record<string, unknown>[]) : [];
    if (Array.isArray(next.spec.ports))
      for (const p of next.spec.ports as Record<string, unknown>[]) {
        const prev = oldPorts.find((o) => o.port === p.port && (o.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
        if (prev?.nodePort !== undefined) p.nodePort ??= prev.nodePort;
      }
  }
  if (r.kind === 'Pod' && isPlainObject(next.spec) && old.spec?.nodeName) next.spec.nodeName ??= old.spec.nodeName;
}
