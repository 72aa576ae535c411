/**
 * The four PATCH flavours the lab API server accepts: JSON merge patch (RFC 7386), strategic merge
 * patch (merge keys for the well-known lists, `$patch` directives), JSON patch (RFC 6902), and
 * server-side apply (merge with the same list keys; fields the same manager applied before and no
 * longer applies are removed, as managedFields ownership does on a real server).
 */
import { ApiError, clone, isPlainObject, deepEqualNormalized } from './object.js';

type Json = unknown;
type Dict = Record<string, Json>;

/**
 * The key fields of a list whose items are maps merged by key (listType=map), by field name;
 * undefined for atomic lists (replaced as a whole). Ports: container ports by containerPort and
 * protocol, Service ports by port and protocol; NetworkPolicy ports (no name/targetPort) are atomic.
 */
export function listKeyFields(field: string, items: readonly Json[]): string[] | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return ['name'];
    case 'volumeMounts':
      return ['mountPath'];
    case 'hostAliases':
      return ['ip'];
    case 'ownerReferences':
      return ['uid'];
    case 'conditions':
    case 'addresses':
      return ['type'];
    case 'ports': {
      const maps = items.filter(isPlainObject);
      if (maps.length && maps.every((p) => 'containerPort' in p)) return ['containerPort', 'protocol'];
      if (maps.length && maps.every((p) => 'port' in p && ('targetPort' in p || 'nodePort' in p || 'name' in p))) return ['port', 'protocol'];
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The identity of a keyed list item (protocol defaults to TCP, as the server defaults it). */
function itemKey(item: Json, fields: readonly string[]): Dict | undefined {
  if (!isPlainObject(item)) return undefined;
  return Object.fromEntries(fields.map((f) => [f, item[f] ?? (f === 'protocol' ? 'TCP' : null)]));
}

function sameKey(a: Json, b: Json, fields: readonly string[]): boolean {
  const ka = itemKey(a, fields);
  const kb = itemKey(b, fields);
  return Boolean(ka && kb && fields.every((f) => ka[f] === kb[f]));
}

// ---- JSON merge patch ----

export function mergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return clone(patch);
  const out: Dict = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- strategic merge patch ----

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return clone(rest);
  }
  const out: Dict = isPlainObject(target) ? clone(target) : {};
  const retain = Array.isArray(patch.$retainKeys) ? (patch.$retainKeys as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as Json[]).filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v)) {
      const key = listKeyFields(k, v);
      out[k] = key ? mergeKeyedList(out[k], v, key, strategicMergePatch, true) : clone(v.filter((x) => !(isPlainObject(x) && x.$patch)));
    } else if (isPlainObject(v)) {
      if (v.$patch === 'delete') delete out[k];
      else out[k] = strategicMergePatch(out[k], v);
    } else out[k] = v;
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.includes(k) && !(k in patch)) delete out[k];
  return out;
}

function mergeKeyedList(
  base: Json,
  items: readonly Json[],
  key: readonly string[],
  merge: (t: Json, p: Json) => Json,
  directives: boolean,
): Json[] {
  const out: Json[] = Array.isArray(base) ? clone(base) : [];
  for (const item of items) {
    if (!isPlainObject(item)) {
      if (!out.some((x) => deepEqualNormalized(x, item))) out.push(clone(item));
      continue;
    }
    const idx = out.findIndex((x) => sameKey(x, item, key));
    if (directives && item.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = merge(out[idx], item);
    else out.push(merge(undefined, item));
  }
  return out;
}

// ---- JSON patch (RFC 6902) ----

interface JsonPatchOp {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: invalid JSON pointer ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, segs: string[], path: string): { parent: Dict | Json[]; last: string } {
  let cur = doc;
  for (const s of segs.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(s)];
    else if (isPlainObject(cur)) cur = cur[s];
    else cur = undefined;
    if (cur === undefined) throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: doc is missing path: "${path}"`);
  }
  if (!isPlainObject(cur) && !Array.isArray(cur)) throw new ApiError(422, 'Invalid', `doc is missing path: "${path}"`);
  return { parent: cur, last: segs[segs.length - 1]! };
}

function getAt(doc: Json, path: string): Json {
  let cur = doc;
  for (const s of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(s)];
    else if (isPlainObject(cur)) cur = cur[s];
    else return undefined;
  }
  return cur;
}

function missing(path: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: jsonpatch replace operation does not apply: doc is missing key: ${path}`);
}

export function jsonPatch(doc: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new ApiError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let out = clone(doc);
  for (const raw of ops as JsonPatchOp[]) {
    const segs = pointer(raw.path);
    const setAt = (value: Json, mode: 'add' | 'replace') => {
      if (!segs.length) {
        out = clone(value);
        return;
      }
      const { parent, last } = parentOf(out, segs, raw.path);
      if (Array.isArray(parent)) {
        const i = last === '-' ? parent.length : Number(last);
        if (mode === 'add') parent.splice(i, 0, clone(value));
        else {
          if (i >= parent.length) throw missing(raw.path);
          parent[i] = clone(value);
        }
      } else {
        if (mode === 'replace' && !(last in parent)) throw missing(raw.path);
        parent[last] = clone(value);
      }
    };
    const removeAt = (path: string) => {
      const s = pointer(path);
      const { parent, last } = parentOf(out, s, path);
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else {
        if (!(last in parent)) throw new ApiError(500, 'InternalError', `Internal error occurred: jsonpatch remove operation does not apply: doc is missing path: "${path}"`);
        delete parent[last];
      }
    };
    switch (raw.op) {
      case 'add':
        setAt(raw.value, 'add');
        break;
      case 'replace':
        setAt(raw.value, 'replace');
        break;
      case 'remove':
        removeAt(raw.path);
        break;
      case 'copy':
        setAt(getAt(out, raw.from ?? ''), 'add');
        break;
      case 'move': {
        const v = getAt(out, raw.from ?? '');
        removeAt(raw.from ?? '');
        setAt(v, 'add');
        break;
      }
      case 'test':
        if (!deepEqualNormalized(getAt(out, raw.path), raw.value))
          throw new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: testing value ${raw.path} failed`);
        break;
      default:
        throw new ApiError(400, 'BadRequest', `Unexpected kind: ${raw.op}`);
    }
  }
  return out;
}

// ---- server-side apply ----

/** Merges an apply configuration into the live object (keyed lists merged, atomic lists replaced). */
export function applyMerge(target: Json, config: Json): Json {
  if (!isPlainObject(config)) return clone(config);
  const out: Dict = isPlainObject(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(config)) {
    if (v === null) continue;
    if (Array.isArray(v)) {
      const key = listKeyFields(k, v);
      out[k] = key ? mergeKeyedList(out[k], v, key, applyMerge, false) : clone(v);
    } else if (isPlainObject(v)) out[k] = applyMerge(out[k], v);
    else out[k] = v;
  }
  return out;
}

/** A FieldsV1 set (the managedFields encoding) of the fields a configuration sets. */
export type FieldSet = { [k: string]: FieldSet };

const META_SKIP = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink']);

export function fieldSetOf(config: Json, top = true): FieldSet {
  const out: FieldSet = {};
  if (!isPlainObject(config)) return out;
  for (const [k, v] of Object.entries(config)) {
    if (v === null || v === undefined) continue;
    if (top && (k === 'apiVersion' || k === 'kind' || k === 'status')) continue;
    if (top && k === 'metadata' && isPlainObject(v)) {
      const meta: Dict = Object.fromEntries(Object.entries(v).filter(([mk]) => !META_SKIP.has(mk)));
      if (Object.keys(meta).length) out['f:metadata'] = fieldSetOf(meta, false);
      continue;
    }
    if (Array.isArray(v)) {
      const key = listKeyFields(k, v);
      if (key) {
        const items: FieldSet = {};
        for (const item of v) {
          if (!isPlainObject(item)) continue;
          items[`k:${JSON.stringify(itemKey(item, key))}`] = { '.': {}, ...fieldSetOf(item, false) };
        }
        out[`f:${k}`] = items;
      } else out[`f:${k}`] = {};
    } else if (isPlainObject(v)) out[`f:${k}`] = fieldSetOf(v, false);
    else out[`f:${k}`] = {};
  }
  return out;
}

export function unionFieldSets(sets: readonly FieldSet[]): FieldSet {
  const out: FieldSet = {};
  for (const s of sets) {
    for (const [k, v] of Object.entries(s)) out[k] = unionFieldSets([out[k] ?? {}, v]);
  }
  return out;
}

function childKey(k: string): { field?: string; item?: Dict } {
  if (k.startsWith('f:')) return { field: k.slice(2) };
  if (k.startsWith('k:')) {
    try {
      return { item: JSON.parse(k.slice(2)) as Dict };
    } catch {
      return {};
    }
  }
  return {};
}

function findItem(list: Json[], key: Dict): number {
  const fields = Object.keys(key);
  return list.findIndex((x) => sameKey(x, key, fields));
}

/**
 * Removes from `obj` the fields in `previous` that are neither in `current` nor owned by another
 * manager (`others`): what a real server does when an applier stops applying a field.
 */
export function pruneFields(obj: Json, previous: FieldSet, current: FieldSet, others: FieldSet | undefined): void {
  for (const [k, sub] of Object.entries(previous)) {
    if (k === '.') continue;
    const { field, item } = childKey(k);
    let child: Json;
    let idx = -1;
    if (field !== undefined && isPlainObject(obj)) child = obj[field];
    else if (item && Array.isArray(obj)) {
      idx = findItem(obj, item);
      child = idx >= 0 ? obj[idx] : undefined;
    } else continue;
    if (child === undefined) continue;
    if (k in current) {
      pruneFields(child, sub, current[k]!, others?.[k]);
    } else if (others && k in others) {
      pruneFields(child, sub, {}, others[k]);
    } else if (field !== undefined && isPlainObject(obj)) {
      delete obj[field];
    } else if (Array.isArray(obj) && idx >= 0) {
      obj.splice(idx, 1);
    }
  }
}
