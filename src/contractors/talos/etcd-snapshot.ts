import { dirname, join } from 'node:path';
import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, nodeArgs, planCluster, planNode, requireNode, talosArgs, talosPlanArgs, type ClusterTarget } from './cluster.js';
import { parseEtcdSnapshot } from './parse.js';
import { talosOk } from './talos.js';

interface Params {
  cluster: string;
  node?: string;
  endpoint?: string;
  path?: string;
}

/** Default snapshot file: `<base>/backups/<cluster>/etcd-<UTC timestamp>.db`. */
export function defaultSnapshotPath(t: ClusterTarget, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return join(t.base, 'backups', t.name, `etcd-${stamp}.db`);
}

function snapshotArgs(t: ClusterTarget, p: Params, path: string, node: string): string[] {
  return ['etcd', 'snapshot', path, ...nodeArgs(t, node, p.endpoint)];
}

export const etcdSnapshotAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const path = p.path ?? join(t.base, 'backups', t.name, 'etcd-<timestamp>.db');
    return [{ kind: 'command', tool: 'talosctl', args: talosPlanArgs(t, ...snapshotArgs(t, p, path, planNode(t, p.node))) }];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const node = requireNode(t, p.node, 'etcd snapshot');
    const path = p.path ?? defaultSnapshotPath(t, rt.now());
    await rt.files.mkdirPrivate(dirname(path));
    const res = await talosOk(rt, 'talosctl etcd snapshot', talosArgs(t, ...snapshotArgs(t, p, path, node)), { errorCode: 'etcd_snapshot_failed', retryable: true });
    const info = parseEtcdSnapshot(res.stdout);
    if (!info) {
      throw new ActionFailedError(`talosctl etcd snapshot exited 0 without "etcd snapshot saved to" in its output`, { errorCode: 'etcd_snapshot_failed', retryable: true });
    }
    return { path: info.path, bytes: info.bytes, revision: info.revision, hash: info.hash };
  },
};
