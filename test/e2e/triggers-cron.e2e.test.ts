import { execa } from 'execa';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, cortex, removeRoot, tempRoot, waitForHistory, waitPastApprovalDeadline } from './helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

const WORKFLOWS: Record<string, string> = {
  'workflows/needs-ok.yaml': `workflow_id: needs-ok
workflow_name: Needs an approval
version: 1.0.0
phases:
  - phase_id: first
    contractor: infrastructure-contractor
    actions:
      - { action_id: one, action: execute_command, parameters: { command: [echo, one] }, timeout: 10 }
  - phase_id: second
    contractor: infrastructure-contractor
    requires_approval: true
    approval_timeout: 1
    actions:
      - { action_id: two, action: execute_command, parameters: { command: [echo, two] }, timeout: 10 }
`,
  'workflows/every-five.yaml': `workflow_id: every-five
workflow_name: Every five minutes
version: 1.0.0
parameters:
  slot: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: tick, action: execute_command, parameters: { command: [echo, "slot \${parameters.slot}"] }, timeout: 10 }
triggers:
  - { type: schedule, id: five, cron: "*/5 * * * *", timezone: America/New_York, parameters: { slot: "\${event.scheduled_local}" } }
`,
};

/** A root with some of the workflows (a real-time tick must not find a due schedule by chance). */
function root(...names: string[]): string {
  const r = tempRoot(Object.fromEntries(Object.entries(WORKFLOWS).filter(([k]) => names.some((n) => k.includes(n)))));
  roots.push(r);
  return r;
}

const history = waitForHistory;

describe('cortex tick and schedule', () => {
  it('tick starts a detached run of a due schedule and the run completes; schedule list shows the next runs across the DST change', async () => {
    const r = root('every-five');
    const res = await cortex(['tick', '--now', '2026-03-08T07:05:01Z'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/every-five\/five due 2026-03-08T03:05:00-04:00 \(2026-03-08T07:05:00.000Z\): started every-five-/);
    const [rec] = await history(r, 1);
    expect(rec).toMatchObject({ status: 'completed', parameters: { slot: '2026-03-08T03:05:00-04:00' }, trigger: { type: 'schedule', source: 'cron', trigger_id: 'five', scheduled_for: '2026-03-08T07:05:00.000Z' } });
    const list = await cortex(['schedule', 'list', '--now', '2026-03-08T06:52:00Z', '--json'], { root: r, env: { CORTEX_CRONTAB: '/nonexistent/crontab' } });
    const sched = (JSON.parse(list.stdout) as { schedules: Array<{ schedule: string; next_runs: Array<{ local: string; utc: string }>; last_execution: string }> }).schedules;
    expect(sched[0]?.next_runs).toEqual([
      { local: '2026-03-08T01:55:00-05:00', utc: '2026-03-08T06:55:00.000Z' },
      { local: '2026-03-08T03:00:00-04:00', utc: '2026-03-08T07:00:00.000Z' },
      { local: '2026-03-08T03:05:00-04:00', utc: '2026-03-08T07:05:00.000Z' },
    ]);
    expect(sched[0]?.last_execution).toBe(rec?.execution_id);
  });

  it('tick expires an approval whose approval_timeout passed: a detached resume rejects it', async () => {
    const r = root('needs-ok');
    const run = await cortex(['run', 'needs-ok', '--json'], { root: r });
    expect(run.exitCode, run.stderr).toBe(0);
    const id = (JSON.parse(run.stdout) as { execution_id: string }).execution_id;
    await waitPastApprovalDeadline(r, id);
    const res = await cortex(['tick'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toContain(`${id}: approval expired: cortex resume started`);
    const [rec] = await history(r, 1);
    expect(rec?.execution_id).toBe(id);
    expect((rec as unknown as { approvals: Array<{ decision: string }> }).approvals.map((a) => a.decision)).toContain('expired');
  });

  it('schedule install: twice equals once, other lines untouched, the cron line works in cron\'s bare environment; uninstall removes only it', async () => {
    const r = root('needs-ok');
    const store = join(r, 'fake-crontab.txt');
    const fake = join(r, 'fake-crontab');
    writeFileSync(fake, `#!/bin/sh\nf="${store}"\ncase "$1" in\n  -l) if [ -f "$f" ]; then cat "$f"; else echo "no crontab for tester" >&2; exit 1; fi ;;\n  -) cat > "$f" ;;\n  *) echo "usage: crontab [-l|-]" >&2; exit 2 ;;\nesac\n`);
    chmodSync(fake, 0o755);
    const env = { CORTEX_CRONTAB: fake };

    // No crontab yet ("no crontab for ...", exit 1) reads as empty.
    const none = await cortex(['schedule', 'uninstall'], { root: r, env });
    expect(none.exitCode, none.stderr).toBe(0);
    expect(none.stdout).toMatch(/nothing to do/);
    const others = 'MAILTO=ops@example.com\n# backups\n0 3 * * * /usr/local/bin/backup.sh\n';
    writeFileSync(store, others);
    const print = await cortex(['schedule', 'install', '--print'], { root: r, env });
    expect(readFileSync(store, 'utf8')).toBe(others);
    const once = await cortex(['schedule', 'install'], { root: r, env });
    expect(once.exitCode, once.stderr).toBe(0);
    const afterOnce = readFileSync(store, 'utf8');
    expect(afterOnce).toBe(`${others}${print.stdout}\n`);
    const twice = await cortex(['schedule', 'install'], { root: r, env });
    expect(twice.stdout).toMatch(/already installed, unchanged/);
    expect(readFileSync(store, 'utf8')).toBe(afterOnce);

    const line = afterOnce.split('\n').find((l) => l.startsWith('* * * * * ')) as string;
    expect(line).toContain(`${process.execPath} ${CLI} --root ${r} tick >> ${r}/state/cron.log 2>&1`);
    expect(afterOnce.match(/^[A-Z_]+=/gm)).toEqual(['MAILTO=']);
    // What cron would run: the command after the five fields (\% -> %), with cron's environment.
    const command = line.slice('* * * * * '.length).replace(/\\%/g, '%');
    const ran = await execa('/bin/sh', ['-c', command], { env: { HOME: r, LOGNAME: 'root', PATH: '/usr/bin:/bin', SHELL: '/bin/sh' }, extendEnv: false, reject: false, cwd: r });
    expect(ran.exitCode, ran.stderr).toBe(0);
    expect(existsSync(join(r, 'state', 'tick.json'))).toBe(true);
    expect(existsSync(join(r, 'state', 'cron.log'))).toBe(true);
    expect(statSync(join(r, 'state', 'cron.log')).mode & 0o777).toBe(0o600);

    const listed = await cortex(['schedule', 'list'], { root: r, env });
    expect(listed.stdout).toMatch(/cron: cortex tick runs every minute/);
    const un = await cortex(['schedule', 'uninstall'], { root: r, env });
    expect(un.exitCode).toBe(0);
    expect(readFileSync(store, 'utf8')).toBe(others);
  });
});
