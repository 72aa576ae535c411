/**
 * The resource table of the lab API server: every kind it stores, with what discovery (aggregated
 * v2 and legacy), OpenAPI v3 and the router need to know about it.
 */

export interface SubresourceDef {
  name: string;
  kind: string;
  verbs: string[];
  /** Group/version of the subresource's kind when it differs (eviction: policy/v1, scale: autoscaling/v1). */
  group?: string;
  version?: string;
}

export interface ResourceDef {
  group: string;
  version: string;
  /** Plural, lower case (URL segment). */
  resource: string;
  kind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  subresources: SubresourceDef[];
  categories?: string[];
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS = (kind: string): SubresourceDef => ({ name: 'status', kind, verbs: ['get', 'patch', 'update'] });
const SCALE: SubresourceDef = { name: 'scale', kind: 'Scale', verbs: ['get', 'patch', 'update'], group: 'autoscaling', version: 'v1' };

function def(
  group: string,
  resource: string,
  kind: string,
  namespaced: boolean,
  shortNames: string[] = [],
  subresources: SubresourceDef[] = [],
  categories?: string[],
): ResourceDef {
  return {
    group,
    version: 'v1',
    resource,
    kind,
    singular: kind.toLowerCase(),
    namespaced,
    shortNames,
    subresources,
    ...(categories ? { categories } : {}),
  };
}

export const RESOURCES: readonly ResourceDef[] = [
  def('', 'namespaces', 'Namespace', false, ['ns'], [STATUS('Namespace')]),
  def('', 'nodes', 'Node', false, ['no'], [STATUS('Node')]),
  def(
    '',
    'pods',
    'Pod',
    true,
    ['po'],
    [
      { name: 'eviction', kind: 'Eviction', verbs: ['create'], group: 'policy', version: 'v1' },
      STATUS('Pod'),
      { name: 'log', kind: 'Pod', verbs: ['get'] },
    ],
    ['all'],
  ),
  def('', 'services', 'Service', true, ['svc'], [STATUS('Service')], ['all']),
  def('', 'endpoints', 'Endpoints', true, ['ep']),
  def('', 'secrets', 'Secret', true),
  def('', 'configmaps', 'ConfigMap', true, ['cm']),
  def('', 'events', 'Event', true, ['ev']),
  def('', 'serviceaccounts', 'ServiceAccount', true, ['sa']),
  def('', 'persistentvolumeclaims', 'PersistentVolumeClaim', true, ['pvc'], [STATUS('PersistentVolumeClaim')]),
  def('', 'persistentvolumes', 'PersistentVolume', false, ['pv'], [STATUS('PersistentVolume')]),
  def('apps', 'deployments', 'Deployment', true, ['deploy'], [STATUS('Deployment'), SCALE], ['all']),
  def('apps', 'replicasets', 'ReplicaSet', true, ['rs'], [STATUS('ReplicaSet'), SCALE], ['all']),
  def('apps', 'statefulsets', 'StatefulSet', true, ['sts'], [STATUS('StatefulSet'), SCALE], ['all']),
  def('apps', 'daemonsets', 'DaemonSet', true, ['ds'], [STATUS('DaemonSet')], ['all']),
  def('apps', 'controllerrevisions', 'ControllerRevision', true),
  def('batch', 'jobs', 'Job', true, [], [STATUS('Job')], ['all']),
  def('batch', 'cronjobs', 'CronJob', true, ['cj'], [STATUS('CronJob')], ['all']),
  def('policy', 'poddisruptionbudgets', 'PodDisruptionBudget', true, ['pdb'], [STATUS('PodDisruptionBudget')]),
  def('networking.k8s.io', 'networkpolicies', 'NetworkPolicy', true, ['netpol']),
  def('networking.k8s.io', 'ingresses', 'Ingress', true, ['ing'], [STATUS('Ingress')]),
  def('networking.k8s.io', 'ingressclasses', 'IngressClass', false),
  def('storage.k8s.io', 'storageclasses', 'StorageClass', false, ['sc']),
  def('rbac.authorization.k8s.io', 'roles', 'Role', true),
  def('rbac.authorization.k8s.io', 'rolebindings', 'RoleBinding', true),
  def('rbac.authorization.k8s.io', 'clusterroles', 'ClusterRole', false),
  def('rbac.authorization.k8s.io', 'clusterrolebindings', 'ClusterRoleBinding', false),
  def('apiextensions.k8s.io', 'customresourcedefinitions', 'CustomResourceDefinition', false, ['crd', 'crds'], [
    STATUS('CustomResourceDefinition'),
  ]),
];

/** Groups in discovery order ('' is the core group, served under /api). */
export const GROUPS: readonly string[] = [...new Set(RESOURCES.map((r) => r.group))];

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** Store key of a resource: "pods", "deployments.apps". */
export function resourceKey(r: ResourceDef): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

export function findResource(group: string, version: string, resource: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function resourceByKind(apiVersion: string, kind: string): ResourceDef | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind);
}

export function mustResource(key: string): ResourceDef {
  const r = RESOURCES.find((x) => resourceKey(x) === key);
  if (!r) throw new Error(`unknown lab resource ${key}`);
  return r;
}

// ---- discovery documents ----

function aggregatedResource(r: ResourceDef) {
  return {
    resource: r.resource,
    responseKind: { group: r.group, version: r.version, kind: r.kind },
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: VERBS,
    ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    subresources: r.subresources.map((s) => ({
      subresource: s.name,
      responseKind: { group: s.group ?? r.group, version: s.version ?? r.version, kind: s.kind },
      verbs: s.verbs,
    })),
  };
}

export const AGGREGATED_CONTENT_TYPE = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

/** Aggregated discovery (apidiscovery.k8s.io/v2) for /api (core) or /apis (named groups). */
export function aggregatedDiscovery(core: boolean) {
  const groups = GROUPS.filter((g) => (core ? g === '' : g !== ''));
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: groups.map((g) => ({
      metadata: { name: g, creationTimestamp: null },
      versions: [{ version: 'v1', resources: RESOURCES.filter((r) => r.group === g).map(aggregatedResource), freshness: 'Current' }],
    })),
  };
}

export function legacyApiVersions(hostPort: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: hostPort }] };
}

function apiGroup(g: string) {
  const gv = { groupVersion: `${g}/v1`, version: 'v1' };
  return { name: g, versions: [gv], preferredVersion: gv };
}

export function legacyGroupList() {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: GROUPS.filter((g) => g !== '').map(apiGroup) };
}

export function legacyGroup(g: string) {
  return GROUPS.includes(g) && g !== '' ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(g) } : undefined;
}

export function apiResourceList(group: string, version: string) {
  const rs = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (!rs.length) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: apiVersionOf({ group, version }),
    resources: rs.flatMap((r) => [
      {
        name: r.resource,
        singularName: r.singular,
        namespaced: r.namespaced,
        kind: r.kind,
        verbs: VERBS,
        ...(r.shortNames.length ? { shortNames: r.shortNames } : {}),
        ...(r.categories ? { categories: r.categories } : {}),
      },
      ...r.subresources.map((s) => ({
        name: `${r.resource}/${s.name}`,
        singularName: '',
        namespaced: r.namespaced,
        kind: s.kind,
        verbs: s.verbs,
        ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
      })),
    ]),
  };
}

// ---- OpenAPI v3 (just enough for kubectl's server-side field validation check) ----

export const OPENAPI_HASH = 'LAB1';

export function openApiRoot() {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const g of GROUPS) {
    const p = g === '' ? 'api/v1' : `apis/${g}/v1`;
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${OPENAPI_HASH}` };
  }
  return { paths };
}

export function openApiDocument(group: string, version: string) {
  const rs = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (!rs.length) return undefined;
  const prefix = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
  const paths: Record<string, unknown> = {};
  for (const r of rs) {
    const path = r.namespaced ? `${prefix}/namespaces/{namespace}/${r.resource}/{name}` : `${prefix}/${r.resource}/{name}`;
    paths[path] = {
      patch: {
        operationId: `patch${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
        parameters: [
          { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
          { name: 'fieldManager', in: 'query', schema: { type: 'string' } },
          { name: 'force', in: 'query', schema: { type: 'boolean' } },
        ],
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
        responses: { '200': { description: 'OK' } },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.4' }, paths, components: { schemas: {} } };
}

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4',
  gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335',
  gitTreeState: 'clean',
  buildDate: '2025-04-22T16:02:27Z',
  goVersion: 'go1.23.6',
  compiler: 'gc',
  platform: 'linux/amd64',
};
