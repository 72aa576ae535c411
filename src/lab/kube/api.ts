/**
 * The registry: create / update / patch / delete with Kubernetes semantics on top of the store
 * (server-set metadata, defaults, validation, generation, status ownership, server-side apply,
 * graceful pod deletion, namespace termination, owner-reference garbage collection, eviction).
 */
import { parse as parseYaml } from 'yaml';
import { applyDefaults, carryOver, usesGeneration, validate } from './defaults.js';
import {
  ApiError,
  alreadyExists,
  badRequest,
  clone,
  conflict,
  deepEqualNormalized,
  isPlainObject,
  k8sTime,
  newUid,
  notFound,
  qualified,
  randomSuffix,
  type KObject,
} from './object.js';
import { applyMerge, fieldSetOf, jsonPatch, mergePatch, pruneFields, strategicMergePatch, unionFieldSets, type FieldSet } from './patch.js';
import { RESOURCES, apiVersionOf, mustResource, resourceKey, type ResourceDef } from './resources.js';
import { namespaceNodeSelector } from './scheduler.js';
import { labelSelectorRequirements, matchesFields, matchesRequirements, type FieldRequirement, type Requirement } from './selectors.js';
import type { KubeStore } from './store.js';

export interface WriteOptions {
  fieldManager?: string;
  force?: boolean;
  dryRun?: boolean;
  subresource?: string;
}

export interface DeleteOptions {
  propagationPolicy?: string;
  gracePeriodSeconds?: number;
  dryRun?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export type PatchType = 'apply' | 'merge' | 'strategic' | 'json';

export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/apply-patch+yaml' || ct === 'application/apply-patch+cbor') return 'apply';
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/strategic-merge-patch+json') return 'strategic';
  if (ct === 'application/json-patch+json') return 'json';
  return undefined;
}

const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
/** Kinds whose status the controllers own: whatever a create sends is dropped. */
const CONTROLLER_STATUS = new Set(['Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'PodDisruptionBudget', 'Pod']);
const DEFAULT_GRACE_SECONDS = 30;

function withoutManagedFields(o: KObject): KObject {
  const c = clone(o);
  delete c.metadata.managedFields;
  return c;
}

export class KubeApi {
  constructor(readonly store: KubeStore) {}

  // ---- reads ----

  get(r: ResourceDef, ns: string | undefined, name: string): KObject {
    const o = this.store.get(resourceKey(r), r.namespaced ? ns : undefined, name);
    if (!o) throw notFound(r.resource, r.group, name);
    return o;
  }

  find(r: ResourceDef, ns: string | undefined, name: string): KObject | undefined {
    return this.store.get(resourceKey(r), r.namespaced ? ns : undefined, name);
  }

  list(r: ResourceDef, ns: string | undefined, labels: readonly Requirement[] = [], fields: readonly FieldRequirement[] = []): KObject[] {
    return this.store
      .list(resourceKey(r), r.namespaced ? ns : undefined)
      .filter((o) => matchesRequirements(o.metadata.labels, labels) && matchesFields(o, fields));
  }

  // ---- writes ----

  private requireNamespace(r: ResourceDef, ns: string | undefined, creating: boolean): void {
    if (!r.namespaced) return;
    if (!ns) throw badRequest('the server could not find the requested resource');
    const n = this.store.peek('namespaces', undefined, ns);
    if (!n) throw notFound('namespaces', '', ns);
    if (creating && n.metadata.deletionTimestamp)
      throw new ApiError(403, 'Forbidden', `${qualified(r.resource, r.group)} "" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`, {
        kind: r.resource,
        ...(r.group ? { group: r.group } : {}),
        causes: [{ reason: 'NamespaceTerminating', message: `namespace ${ns} is being terminated`, field: 'metadata.namespace' }],
      });
  }

  private checkTypeMeta(r: ResourceDef, body: KObject): void {
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(r))
      throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(r)})`);
    if (body.kind !== undefined && body.kind !== r.kind) throw badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${r.kind})`);
  }

  private checkNamespace(r: ResourceDef, ns: string | undefined, body: KObject): void {
    if (!r.namespaced) {
      delete body.metadata.namespace;
      return;
    }
    if (body.metadata.namespace && ns && body.metadata.namespace !== ns)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    body.metadata.namespace = ns;
  }

  private serviceContext() {
    const svcs = this.store.scan('services');
    return {
      usedClusterIps: new Set(svcs.map((s) => s.spec?.clusterIP as string).filter(Boolean)),
      usedNodePorts: new Set(
        svcs.flatMap((s) => ((s.spec?.ports ?? []) as { nodePort?: number }[]).map((p) => p.nodePort).filter((p): p is number => typeof p === 'number')),
      ),
    };
  }

  private managedEntry(r: ResourceDef, manager: string, operation: 'Apply' | 'Update', fields: FieldSet, subresource?: string) {
    return {
      manager,
      operation,
      apiVersion: apiVersionOf(r),
      time: k8sTime(),
      fieldsType: 'FieldsV1',
      fieldsV1: fields,
      ...(subresource ? { subresource } : {}),
    };
  }

  private recordManager(r: ResourceDef, obj: KObject, manager: string, operation: 'Apply' | 'Update', fields: FieldSet, subresource?: string): void {
    const list = (obj.metadata.managedFields ?? []).filter(
      (m: { manager: string; operation: string; subresource?: string }) => !(m.manager === manager && m.operation === operation && (m.subresource ?? '') === (subresource ?? '')),
    );
    const prev = (obj.metadata.managedFields ?? []).find(
      (m: { manager: string; operation: string; subresource?: string }) => m.manager === manager && m.operation === operation && (m.subresource ?? '') === (subresource ?? ''),
    ) as { fieldsV1?: FieldSet } | undefined;
    const merged = operation === 'Update' && prev?.fieldsV1 ? unionFieldSets([prev.fieldsV1, fields]) : fields;
    list.push(this.managedEntry(r, manager, operation, merged, subresource));
    obj.metadata.managedFields = list;
  }

  /** POST: creates an object. */
  create(r: ResourceDef, ns: string | undefined, input: KObject, opts: WriteOptions = {}): KObject {
    if (!isPlainObject(input) || !isPlainObject(input.metadata)) throw badRequest('Object \'metadata\' is missing');
    const body = clone(input);
    this.checkTypeMeta(r, body);
    this.checkNamespace(r, ns, body);
    this.requireNamespace(r, body.metadata.namespace, true);
    if (!body.metadata.name && body.metadata.generateName) {
      for (let i = 0; i < 10 && (!body.metadata.name || this.find(r, ns, body.metadata.name)); i++) body.metadata.name = `${body.metadata.generateName}${randomSuffix(5)}`;
    }
    const name = body.metadata.name;
    if (name && this.find(r, body.metadata.namespace, name)) throw alreadyExists(r.resource, r.group, name);
    for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink'])
      delete body.metadata[k];
    body.apiVersion = apiVersionOf(r);
    body.kind = r.kind;
    if (usesGeneration(r)) body.metadata.generation = 1;
    if (CONTROLLER_STATUS.has(r.kind)) delete body.status;
    if (r.kind === 'Pod') {
      body.status = { phase: 'Pending', qosClass: 'BestEffort' };
      const nsSelector = namespaceNodeSelector(this.store.peek('namespaces', undefined, body.metadata.namespace!));
      if (Object.keys(nsSelector).length && isPlainObject(body.spec)) body.spec.nodeSelector = { ...(body.spec.nodeSelector ?? {}), ...nsSelector };
    }
    applyDefaults(r, body, this.serviceContext());
    validate(r, body, undefined);
    this.recordManager(r, body, opts.fieldManager ?? 'unknown', 'Update', fieldSetOf(input));
    if (opts.dryRun) return withoutManagedFields({ ...body, metadata: { ...body.metadata, uid: newUid(), creationTimestamp: k8sTime() } });
    return this.store.create(resourceKey(r), body);
  }

  /** Final step of every update: defaults, validation, generation, store (no write when nothing changed). */
  private commit(r: ResourceDef, old: KObject, next: KObject, opts: WriteOptions): KObject {
    next.apiVersion = apiVersionOf(r);
    next.kind = r.kind;
    for (const k of ['uid', 'creationTimestamp', 'namespace', 'name'] as const) {
      if (old.metadata[k] !== undefined) next.metadata[k] = old.metadata[k];
      else delete next.metadata[k];
    }
    next.metadata.deletionTimestamp = old.metadata.deletionTimestamp;
    if (next.metadata.deletionTimestamp === undefined) delete next.metadata.deletionTimestamp;
    if (old.metadata.generation !== undefined) next.metadata.generation = old.metadata.generation;
    else delete next.metadata.generation;
    applyDefaults(r, next, this.serviceContext());
    validate(r, next, old);
    if (usesGeneration(r) && !deepEqualNormalized(old.spec, next.spec)) next.metadata.generation = (old.metadata.generation ?? 1) + 1;
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (opts.dryRun) return withoutManagedFields(next);
    // a write that changes nothing (a re-apply of the same manifest) keeps the resourceVersion
    const untimed = (o: KObject) => ((o.metadata.managedFields ?? []) as Record<string, unknown>[]).map(({ time: _t, ...m }) => m);
    if (deepEqualNormalized(withoutManagedFields(old), withoutManagedFields(next)) && deepEqualNormalized(untimed(old), untimed(next))) return old;
    return this.store.update(resourceKey(r), next);
  }

  private checkPreconditions(r: ResourceDef, old: KObject, body: KObject | undefined): void {
    const rv = body?.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) throw conflict(r.resource, r.group, old.metadata.name);
  }

  /** PUT (main resource or status). */
  update(r: ResourceDef, ns: string | undefined, name: string, input: KObject, opts: WriteOptions = {}): KObject {
    if (!isPlainObject(input) || !isPlainObject(input.metadata)) throw badRequest('Object \'metadata\' is missing');
    this.checkTypeMeta(r, input);
    if (input.metadata.name && input.metadata.name !== name)
      throw badRequest(`the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    this.requireNamespace(r, ns, false);
    const old = this.get(r, ns, name);
    this.checkPreconditions(r, old, input);
    let next: KObject;
    if (opts.subresource === 'status') {
      next = clone(old);
      next.status = clone(input.status);
    } else {
      next = clone(input);
      next.metadata.managedFields = old.metadata.managedFields;
      carryOver(r, old, next);
    }
    this.recordManager(r, next, opts.fieldManager ?? 'unknown', 'Update', fieldSetOf(opts.subresource === 'status' ? { status: input.status } : input), opts.subresource);
    return this.commit(r, old, next, opts);
  }

  /** PATCH. Returns the object and whether a server-side apply created it. */
  patch(r: ResourceDef, ns: string | undefined, name: string, type: PatchType, rawBody: string, opts: WriteOptions = {}): { object: KObject; created: boolean } {
    let body: unknown;
    try {
      body = type === 'apply' ? parseYaml(rawBody) : JSON.parse(rawBody);
    } catch (e) {
      throw badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    if (type === 'apply') return this.apply(r, ns, name, body, opts);
    this.requireNamespace(r, ns, false);
    const old = this.get(r, ns, name);
    let patched: unknown;
    if (type === 'json') patched = jsonPatch(old, body);
    else if (!isPlainObject(body)) throw badRequest('the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml');
    else patched = type === 'merge' ? mergePatch(old, body) : strategicMergePatch(old, body);
    if (!isPlainObject(patched) || !isPlainObject(patched.metadata)) throw badRequest('patch removed the object metadata');
    const next = patched as KObject;
    if (isPlainObject(body) && isPlainObject(body.metadata)) this.checkPreconditions(r, old, body as KObject);
    if (opts.subresource === 'status') {
      const status = next.status;
      const only = clone(old);
      only.status = status;
      this.recordManager(r, only, opts.fieldManager ?? 'unknown', 'Update', fieldSetOf(isPlainObject(body) ? body : {}), 'status');
      return { object: this.commit(r, old, only, opts), created: false };
    }
    carryOver(r, old, next);
    this.recordManager(r, next, opts.fieldManager ?? 'unknown', 'Update', isPlainObject(body) ? fieldSetOf(body) : {});
    return { object: this.commit(r, old, next, opts), created: false };
  }

  private apply(r: ResourceDef, ns: string | undefined, name: string, config: unknown, opts: WriteOptions): { object: KObject; created: boolean } {
    if (!isPlainObject(config)) throw badRequest('error decoding YAML: the apply configuration must be an object');
    const cfg = clone(config) as KObject;
    if (!cfg.apiVersion || !cfg.kind) throw badRequest('invalid object type: /, Kind=');
    this.checkTypeMeta(r, cfg);
    cfg.metadata ??= { name };
    if (cfg.metadata.name && cfg.metadata.name !== name) throw badRequest(`the name of the object (${cfg.metadata.name}) does not match the name on the URL (${name})`);
    if (r.namespaced && cfg.metadata.namespace && cfg.metadata.namespace !== ns)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const manager = opts.fieldManager;
    if (!manager) throw badRequest('PATCH, application/apply-patch+yaml requires fieldManager to be set');
    this.requireNamespace(r, ns, false);
    const fields = fieldSetOf(cfg);
    const old = this.find(r, ns, name);
    if (!old) {
      const body = { ...cfg, metadata: { ...cfg.metadata, name } } as KObject;
      if (r.kind === 'Pod') delete body.status;
      const created = this.createApplied(r, ns, body, manager, fields, opts);
      return { object: created, created: true };
    }
    if (opts.subresource === 'status') {
      const next = clone(old);
      next.status = applyMerge(old.status, cfg.status ?? {});
      return { object: this.commit(r, old, next, opts), created: false };
    }
    const managers = (old.metadata.managedFields ?? []) as { manager: string; operation: string; fieldsV1?: FieldSet; subresource?: string }[];
    const previous = managers.find((m) => m.manager === manager && m.operation === 'Apply' && !m.subresource)?.fieldsV1;
    const others = unionFieldSets(managers.filter((m) => !(m.manager === manager && m.operation === 'Apply')).map((m) => m.fieldsV1 ?? {}));
    const { status: _ignored, ...cfgNoStatus } = cfg;
    const next = applyMerge(old, cfgNoStatus) as KObject;
    if (previous) pruneFields(next, previous, fields, others);
    carryOver(r, old, next);
    this.recordManager(r, next, manager, 'Apply', fields);
    return { object: this.commit(r, old, next, opts), created: false };
  }

  private createApplied(r: ResourceDef, ns: string | undefined, body: KObject, manager: string, fields: FieldSet, opts: WriteOptions): KObject {
    const created = this.create(r, ns, body, { ...opts, fieldManager: manager });
    if (opts.dryRun) return created;
    // the create recorded an Update entry: an apply owns its fields as Apply instead
    const stored = this.store.peek(resourceKey(r), created.metadata.namespace, created.metadata.name)!;
    stored.metadata.managedFields = [this.managedEntry(r, manager, 'Apply', fields)];
    this.store.markDirty();
    return clone(stored);
  }

  // ---- delete ----

  delete(r: ResourceDef, ns: string | undefined, name: string, opts: DeleteOptions = {}): { object?: KObject; status?: Record<string, unknown> } {
    this.requireNamespace(r, ns, false);
    const old = this.get(r, ns, name);
    if (opts.preconditions?.uid && opts.preconditions.uid !== old.metadata.uid)
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r.resource, r.group)} "${name}": Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${old.metadata.uid}`, {
        name,
        ...(r.group ? { group: r.group } : {}),
        kind: r.resource,
      });
    if (r.kind === 'Namespace' && PROTECTED_NAMESPACES.has(name))
      throw new ApiError(403, 'Forbidden', `namespaces "${name}" is forbidden: this namespace may not be deleted`, { name, kind: 'namespaces' });
    if (opts.dryRun) return r.kind === 'Pod' || r.kind === 'Namespace' ? { object: old } : { status: this.successStatus(r, old) };
    if (r.kind === 'Pod') return { object: this.deletePod(old, opts.gracePeriodSeconds) };
    if (r.kind === 'Namespace') {
      if (old.metadata.deletionTimestamp) return { object: old };
      const next = clone(old);
      next.metadata.deletionTimestamp = k8sTime();
      next.status = { ...(next.status ?? {}), phase: 'Terminating' };
      return { object: this.store.update('namespaces', next) };
    }
    this.store.remove(resourceKey(r), ns, name);
    this.collectDependents(old.metadata.uid!, opts.propagationPolicy === 'Orphan');
    return { status: this.successStatus(r, old) };
  }

  private successStatus(r: ResourceDef, o: KObject) {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: o.metadata.name, ...(r.group ? { group: r.group } : {}), kind: r.resource, uid: o.metadata.uid },
    };
  }

  /** Graceful pod deletion: a scheduled, not-yet-terminated pod gets a deletionTimestamp (the lab kubelet removes it). */
  deletePod(pod: KObject, graceSeconds?: number): KObject {
    if (pod.metadata.deletionTimestamp) return pod;
    const grace = graceSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_GRACE_SECONDS;
    const running = pod.spec?.nodeName && !['Succeeded', 'Failed'].includes(pod.status?.phase);
    if (!running || grace === 0) {
      const gone = this.store.remove('pods', pod.metadata.namespace, pod.metadata.name) ?? pod;
      return gone;
    }
    const next = clone(pod);
    next.metadata.deletionTimestamp = k8sTime(Date.now() + grace * 1000);
    next.metadata.deletionGracePeriodSeconds = grace;
    return this.store.update('pods', next);
  }

  /** Owner-reference garbage collection after `uid` was deleted (background propagation, or orphaning). */
  collectDependents(uid: string, orphan = false): void {
    for (const r of RESOURCES) {
      const key = resourceKey(r);
      for (const o of this.store.scan(key)) {
        const refs = o.metadata.ownerReferences ?? [];
        if (!refs.some((x) => x.uid === uid)) continue;
        if (orphan || refs.length > 1) {
          const next = clone(o);
          next.metadata.ownerReferences = refs.filter((x) => x.uid !== uid);
          if (!next.metadata.ownerReferences.length) delete next.metadata.ownerReferences;
          this.store.update(key, next);
          continue;
        }
        if (r.kind === 'Pod') this.deletePod(clone(o));
        else {
          this.store.remove(key, o.metadata.namespace, o.metadata.name);
          this.collectDependents(o.metadata.uid!, false);
        }
      }
    }
  }

  /** Removes everything in a terminating namespace, then the namespace itself. */
  finalizeNamespace(name: string): void {
    for (const r of RESOURCES) {
      if (!r.namespaced) continue;
      for (const o of this.store.scan(resourceKey(r), name)) {
        this.store.remove(resourceKey(r), name, o.metadata.name);
      }
    }
    this.store.remove('namespaces', undefined, name);
  }

  // ---- eviction ----

  /** POST pods/<name>/eviction: 201 or 429 (PodDisruptionBudget). */
  evict(ns: string, name: string, body: KObject | undefined): Record<string, unknown> {
    const pods = mustResource('pods');
    this.requireNamespace(pods, ns, false);
    const pod = this.get(pods, ns, name);
    if (body?.metadata?.name && body.metadata.name !== name)
      throw badRequest(`name in URL does not match name in Eviction object`);
    if (!pod.metadata.deletionTimestamp) {
      const blocking = this.blockingBudget(pod);
      if (blocking)
        throw new ApiError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
          causes: [{ reason: 'DisruptionBudget', message: blocking }],
        });
      const grace = (body?.deleteOptions as { gracePeriodSeconds?: number } | undefined)?.gracePeriodSeconds;
      this.deletePod(pod, grace);
    }
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 };
  }

  private blockingBudget(pod: KObject): string | undefined {
    const ns = pod.metadata.namespace;
    for (const pdb of this.store.scan('poddisruptionbudgets.policy', ns)) {
      const reqs = labelSelectorRequirements(pdb.spec?.selector);
      if (!reqs.length || !matchesRequirements(pod.metadata.labels, reqs)) continue;
      const b = budgetOf(pdb, this.store.scan('pods', ns));
      if (!isHealthy(pod)) continue; // an unhealthy pod does not count against the budget
      if (b.disruptionsAllowed <= 0) return `The disruption budget ${pdb.metadata.name} needs ${b.desiredHealthy} healthy pods and has ${b.currentHealthy} currently`;
    }
    return undefined;
  }
}

export function isHealthy(pod: KObject): boolean {
  return (
    !pod.metadata.deletionTimestamp &&
    pod.status?.phase === 'Running' &&
    ((pod.status?.conditions ?? []) as { type: string; status: string }[]).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

function scaled(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.endsWith('%')) {
    const x = (Number(v.slice(0, -1)) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }
  return Number(v) || 0;
}

/** PodDisruptionBudget status from the pods it selects. */
export function budgetOf(pdb: KObject, pods: readonly KObject[]) {
  const reqs = labelSelectorRequirements(pdb.spec?.selector);
  const selected = pods.filter((p) => reqs.length && matchesRequirements(p.metadata.labels, reqs) && !p.metadata.deletionTimestamp);
  const expectedPods = selected.length;
  const currentHealthy = selected.filter(isHealthy).length;
  let desiredHealthy: number;
  if (pdb.spec?.minAvailable !== undefined) desiredHealthy = scaled(pdb.spec.minAvailable, expectedPods, true);
  else if (pdb.spec?.maxUnavailable !== undefined) desiredHealthy = Math.max(0, expectedPods - scaled(pdb.spec.maxUnavailable, expectedPods, true));
  else desiredHealthy = 0;
  return { expectedPods, currentHealthy, desiredHealthy, disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy) };
}
