/**
 * What a caller whose action is set to fail (`--simulate-fail`) sees: a Deployment whose rollout
 * exceeded its progress deadline, pods in CrashLoopBackOff. Reads of other kinds and every write
 * answer 500 instead (see server.ts).
 */
import { clone, k8sTime, type KObject } from './object.js';

export function failingDeployment(d: KObject, newReplicaSet?: string): KObject {
  const o = clone(d);
  const replicas = Number(o.spec?.replicas ?? 1);
  const now = k8sTime();
  const rsName = newReplicaSet ?? o.metadata.name;
  o.status = {
    observedGeneration: o.metadata.generation ?? 1,
    replicas,
    updatedReplicas: replicas,
    ...(replicas ? { unavailableReplicas: replicas } : {}),
    conditions: [
      { type: 'Available', status: 'False', lastUpdateTime: now, lastTransitionTime: now, reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
      {
        type: 'Progressing',
        status: 'False',
        lastUpdateTime: now,
        lastTransitionTime: now,
        reason: 'ProgressDeadlineExceeded',
        message: `ReplicaSet "${rsName}" has timed out progressing.`,
      },
    ],
  };
  return o;
}

export function failingPod(p: KObject): KObject {
  const o = clone(p);
  if (o.status?.phase !== 'Running') return o;
  const now = k8sTime();
  o.status.conditions = ((o.status.conditions ?? []) as { type: string; status: string }[]).map((c) =>
    c.type === 'Ready' || c.type === 'ContainersReady' ? { ...c, status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${((o.spec?.containers ?? []) as { name: string }[]).map((x) => x.name).join(' ')}]` } : c,
  );
  o.status.containerStatuses = ((o.status.containerStatuses ?? []) as Record<string, unknown>[]).map((c) => ({
    ...c,
    ready: false,
    started: false,
    restartCount: 5,
    state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off 2m40s restarting failed container=${String(c.name)} pod=${o.metadata.name}_${o.metadata.namespace}(${o.metadata.uid})` } },
    lastState: { terminated: { exitCode: 1, reason: 'Error', startedAt: now, finishedAt: now, containerID: c.containerID } },
  }));
  return o;
}
