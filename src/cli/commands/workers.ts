import { UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { queueFor } from '../app.js';
import { table } from '../render/table.js';

/** `cortex workers`: the workers connected to the queue now (host, pid, what they take, since when). */
export async function workers(ctx: CommandContext): Promise<number> {
  const queue = await queueFor(ctx);
  if (!queue) throw new UsageError('cortex workers needs queue mode: set queue: { url: redis://... } in config.yaml, or CORTEX_QUEUE_URL');
  try {
    const { loadRootConfig } = await import('../../app/prepare.js');
    const contractors = (await loadRootConfig(ctx)).queue?.contractors ?? [];
    const list = (await queue.workers(contractors)).map((w) => {
      // Named by cortex worker: cortex-worker:<host>:<pid>:<what it takes: executions and/or contractors, comma-separated>.
      const m = /^cortex-worker:(.*):(\d+):([^:]+)$/.exec(w.name);
      return { host: m?.[1] ?? null, pid: m ? Number(m[2]) : null, takes: m?.[3] ?? null, name: w.name, addr: w.addr ?? null, connected_seconds: w.age_seconds ?? null };
    });
    if (ctx.out.json) ctx.out.data({ workers: list });
    else if (!list.length) ctx.out.line('no worker is connected to the queue (start one with: cortex worker)');
    else ctx.out.line(table(['HOST', 'PID', 'TAKES', 'CONNECTED'], list.map((w) => [w.host ?? w.name, String(w.pid ?? '-'), w.takes ?? '-', w.connected_seconds === null ? '-' : `${w.connected_seconds}s`])));
    return 0;
  } finally {
    await queue.close();
  }
}
