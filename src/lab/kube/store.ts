/**
 * The lab API server's object store: every object by resource, a global resourceVersion, watch
 * fan-out with a short history (so a watch from a list's resourceVersion misses nothing), and
 * write-through persistence to <lab>/state/kube.json (coalesced over a few ms, flushed on stop).
 */
import { readState, withLock, writeState } from '../lab-dir.js';
import { clone, k8sTime, newUid, type KObject } from './object.js';

export interface KubeState {
  version: 1;
  resourceVersion: number;
  /** resource key ("pods", "deployments.apps") -> "<ns>/<name>" or "<name>" -> object */
  objects: Record<string, Record<string, KObject>>;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  key: string;
  type: WatchEventType;
  object: KObject;
  /** The object before the change (MODIFIED). */
  old?: KObject;
}

export const STATE_NAME = 'kube';
const HISTORY = 5000;
const MAX_EVENTS = 500;
/** Writes are coalesced this long (a rollout changes many objects within a few ms); stop() flushes. */
const FLUSH_DELAY_MS = 30;

export function emptyKubeState(): KubeState {
  return { version: 1, resourceVersion: 100, objects: {} };
}

export function objectId(ns: string | undefined, name: string): string {
  return ns ? `${ns}/${name}` : name;
}

export class KubeStore {
  state: KubeState;
  private history: StoreEvent[] = [];
  private listeners = new Set<(e: StoreEvent) => void>();
  private flushScheduled = false;
  private dirty = false;

  constructor(
    readonly lab: string | undefined,
    initial?: KubeState,
  ) {
    this.state = initial ?? (lab ? readState<KubeState>(lab, STATE_NAME, emptyKubeState) : emptyKubeState());
    if (!this.state.objects || typeof this.state.resourceVersion !== 'number') this.state = { ...emptyKubeState(), ...this.state, objects: this.state.objects ?? {} };
  }

  /** True when the state holds no object at all (a lab seeded before this module existed). */
  get isEmpty(): boolean {
    return Object.values(this.state.objects).every((b) => Object.keys(b).length === 0);
  }

  get resourceVersion(): number {
    return this.state.resourceVersion;
  }

  /** Oldest resourceVersion a watch can start from without a 410 Gone. */
  get oldestWatchable(): number {
    return this.history.length ? this.history[0]!.rv - 1 : this.state.resourceVersion;
  }

  private bucket(key: string): Record<string, KObject> {
    return (this.state.objects[key] ??= {});
  }

  get(key: string, ns: string | undefined, name: string): KObject | undefined {
    const o = this.state.objects[key]?.[objectId(ns, name)];
    return o ? clone(o) : undefined;
  }

  /** Live reference (no copy): for read-only scans by the controller. */
  peek(key: string, ns: string | undefined, name: string): KObject | undefined {
    return this.state.objects[key]?.[objectId(ns, name)];
  }

  /** Live references of every object of a resource (optionally in one namespace). Do not mutate. */
  scan(key: string, ns?: string): KObject[] {
    const all = Object.values(this.state.objects[key] ?? {});
    return ns ? all.filter((o) => o.metadata.namespace === ns) : all;
  }

  list(key: string, ns?: string): KObject[] {
    return this.scan(key, ns)
      .map((o) => clone(o))
      .sort((a, b) => (objectId(a.metadata.namespace, a.metadata.name) < objectId(b.metadata.namespace, b.metadata.name) ? -1 : 1));
  }

  private bump(obj: KObject): number {
    const rv = ++this.state.resourceVersion;
    obj.metadata.resourceVersion = String(rv);
    return rv;
  }

  /** Stores a new object: uid, creationTimestamp, resourceVersion. Returns a copy. */
  create(key: string, obj: KObject): KObject {
    const o = clone(obj);
    o.metadata.uid ??= newUid();
    o.metadata.creationTimestamp ??= k8sTime();
    const rv = this.bump(o);
    this.bucket(key)[objectId(o.metadata.namespace, o.metadata.name)] = o;
    this.emit({ rv, key, type: 'ADDED', object: clone(o) });
    if (key === 'events') this.trimEvents();
    return clone(o);
  }

  /** Replaces a stored object (new resourceVersion). Returns a copy. */
  update(key: string, obj: KObject): KObject {
    const id = objectId(obj.metadata.namespace, obj.metadata.name);
    const old = this.bucket(key)[id];
    const o = clone(obj);
    const rv = this.bump(o);
    this.bucket(key)[id] = o;
    this.emit({ rv, key, type: 'MODIFIED', object: clone(o), ...(old ? { old: clone(old) } : {}) });
    return clone(o);
  }

  remove(key: string, ns: string | undefined, name: string): KObject | undefined {
    const id = objectId(ns, name);
    const o = this.bucket(key)[id];
    if (!o) return undefined;
    delete this.bucket(key)[id];
    const rv = this.bump(o);
    this.emit({ rv, key, type: 'DELETED', object: clone(o) });
    return clone(o);
  }

  private trimEvents(): void {
    const b = this.bucket('events');
    const ids = Object.keys(b);
    if (ids.length <= MAX_EVENTS) return;
    ids
      .sort((a, z) => Number(b[a]!.metadata.resourceVersion) - Number(b[z]!.metadata.resourceVersion))
      .slice(0, ids.length - MAX_EVENTS)
      .forEach((id) => delete b[id]);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events after `rv` still in the history, or undefined when `rv` is too old. */
  eventsSince(rv: number): StoreEvent[] | undefined {
    if (rv < this.oldestWatchable) return undefined;
    return this.history.filter((e) => e.rv > rv);
  }

  private emit(e: StoreEvent): void {
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    this.markDirty();
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch {
        // a broken watcher must not break the write
      }
    }
  }

  markDirty(): void {
    this.dirty = true;
    if (!this.lab || this.flushScheduled) return;
    this.flushScheduled = true;
    const t = setTimeout(() => {
      this.flushScheduled = false;
      this.flush();
    }, FLUSH_DELAY_MS);
    t.unref?.();
  }

  /** Writes the state file now (under the lab's lock for it). */
  flush(): void {
    if (!this.lab || !this.dirty) return;
    this.dirty = false;
    const lab = this.lab;
    withLock(lab, STATE_NAME, () => writeState(lab, STATE_NAME, this.state));
  }
}
