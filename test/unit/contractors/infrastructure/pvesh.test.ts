import { describe, expect, it } from 'vitest';
import { classifyPveMessage, encodeParams, extractUpid, parseJsonOutput, Pvesh, pveshArgs, upidNode } from '../../../../src/contractors/infrastructure/pvesh.js';
import { ActionFailedError } from '../../../../src/errors.js';
import { makeRuntime } from '../runtime-helper.js';
import { depsWith, FIXTURES, J, json, PveFake, taskStatus, upid, worker } from './pve-fake.js';

const EXAMPLE = FIXTURES.upid_example as string;

describe('pvesh helpers', () => {
  it('builds argv: repeated arrays, booleans as 1/0, undefined left out, json output last', () => {
    expect(encodeParams([['full', true], ['storage', undefined], ['command', ['sh', 'x']], ['cores', 4], ['x', null]])).toEqual(['--full', '1', '--command', 'sh', '--command', 'x', '--cores', '4']);
    expect(pveshArgs('get', '/cluster/nextid')).toEqual(['get', '/cluster/nextid', '--output-format', 'json']);
  });

  it('takes the UPID from the last stdout line with the regex, also from a forwarded JSON string', () => {
    const log = (FIXTURES.clone_log as string[]).join('\n');
    expect(extractUpid(`${log}\n"${EXAMPLE}"\n`)).toBe(EXAMPLE);
    expect(extractUpid(`${log}\n${EXAMPLE}\n`)).toBe(EXAMPLE);
    // pvesh forwarding to another node may hand back one JSON string holding the log and the UPID
    expect(extractUpid(`${JSON.stringify(`${log}\n${EXAMPLE}`)}\n`)).toBe(EXAMPLE);
    // a UPID only in an earlier log line is not the result
    expect(extractUpid(`${EXAMPLE}\nsomething else\n`)).toBeUndefined();
    expect(upidNode(EXAMPLE)).toBe('pve1');
  });

  it('parses bare scalars and objects', () => {
    expect(parseJsonOutput('null\n')).toBeNull();
    expect(parseJsonOutput('100\n')).toBe(100);
    expect(parseJsonOutput(`"${EXAMPLE}"\n`)).toBe(EXAMPLE);
    expect(parseJsonOutput('')).toBeNull();
  });

  it('classifies Proxmox error texts', () => {
    expect(classifyPveMessage(FIXTURES.err_newid_exists as string)).toEqual({ kind: 'exists', retryable: false });
    expect(classifyPveMessage(FIXTURES.err_config_missing as string)).toEqual({ kind: 'not_found', retryable: false });
    expect(classifyPveMessage(FIXTURES.err_lock as string)).toEqual({ kind: 'lock', retryable: true });
    expect(classifyPveMessage(FIXTURES.err_running as string)).toEqual({ kind: 'state', retryable: false });
    expect(classifyPveMessage(FIXTURES.err_unknown_param as string)).toEqual({ kind: 'param', retryable: false });
    expect(classifyPveMessage(FIXTURES.err_no_such_resource as string)).toEqual({ kind: 'not_found', retryable: false });
    expect(classifyPveMessage("clone failed: storage 'ceph-rbd' is not available on node 'pve-01'").retryable).toBe(false);
  });
});

function runtime(fake: PveFake) {
  const deps = depsWith(fake);
  const { rt, dispose } = makeRuntime({}, { deps, config: { proxmox: { task_poll_seconds: 2 } } });
  return { pv: new Pvesh(rt), deps, dispose };
}

describe('Pvesh.task', () => {
  it('polls the UPID node every task_poll_seconds until stopped', async () => {
    const u = upid('qmstart', 101, 'pve-02');
    const fake = new PveFake().task(['create', '/nodes/pve-02/qemu/101/status/start'], u, { statuses: [undefined, undefined, 'OK'] });
    const { pv, deps, dispose } = runtime(fake);
    const st = await pv.task('create', '/nodes/pve-02/qemu/101/status/start');
    dispose();
    expect(st.exitstatus).toBe('OK');
    expect(fake.calls).toEqual([
      ['create', '/nodes/pve-02/qemu/101/status/start', ...J],
      ['get', `/nodes/pve-02/tasks/${u}/status`, ...J],
      ['get', `/nodes/pve-02/tasks/${u}/status`, ...J],
      ['get', `/nodes/pve-02/tasks/${u}/status`, ...J],
    ]);
    expect(deps.clock.sleeps).toEqual([2000, 2000]);
  });

  it('accepts WARNINGS: n', async () => {
    const u = upid('qmclone', 9000);
    const fake = new PveFake().task(['create', '/nodes/pve-01/qemu/9000/clone'], u, { statuses: ['WARNINGS: 1'] });
    const { pv, dispose } = runtime(fake);
    await expect(pv.task('create', '/nodes/pve-01/qemu/9000/clone')).resolves.toMatchObject({ exitstatus: 'WARNINGS: 1' });
    dispose();
  });

  it('fails a task that ended badly although pvesh exited 0, with the log as context', async () => {
    const u = upid('qmstart', 101);
    const msg = (FIXTURES.task_lock_failed as { exitstatus: string }).exitstatus;
    const fake = new PveFake().task(['create', '/nodes/pve-01/qemu/101/status/start'], u, {
      stderr: `${msg}\n`,
      statuses: [msg],
      taskLog: ['trying to acquire lock...', `TASK ERROR: ${msg}`],
    });
    const { pv, dispose } = runtime(fake);
    const e = await pv.task('create', '/nodes/pve-01/qemu/101/status/start', [], { errorCode: 'vm_start_failed', what: 'start VM 101' }).catch((x: unknown) => x);
    dispose();
    expect(e).toBeInstanceOf(ActionFailedError);
    expect(e).toMatchObject({ errorCode: 'vm_start_failed', retryable: true, upid: u, pveMessage: msg });
    expect((e as Error).message).toBe(`start VM 101: task qmstart failed: ${msg} (log: trying to acquire lock...)`);
    expect(fake.calls.at(-1)).toEqual(['get', `/nodes/pve-01/tasks/${u}/log`, '--start', '0', '--limit', '500', ...J]);
  });

  it('reads the LAST lines of a long task log, page by page (start/limit)', async () => {
    const u = upid('qmclone', 9000);
    const lines = Array.from({ length: 1203 }, (_, i) => `transferred ${i} of 1203`);
    const page = (start: number) => json(lines.slice(start, start + 500).map((t, i) => ({ n: start + i + 1, t })));
    const fake = new PveFake()
      .on(['get', `/nodes/pve-01/tasks/${u}/log`, '--start', '0', '--limit', '500', ...J], page(0))
      .on(['get', `/nodes/pve-01/tasks/${u}/log`, '--start', '500', '--limit', '500', ...J], page(500))
      .on(['get', `/nodes/pve-01/tasks/${u}/log`, '--start', '1000', '--limit', '500', ...J], page(1000));
    const { pv, dispose } = runtime(fake);
    expect(await pv.taskLog(u, 3)).toEqual(['transferred 1200 of 1203', 'transferred 1201 of 1203', 'transferred 1202 of 1203']);
    expect((await pv.taskLog(u)).length).toBe(50);
    dispose();
  });

  it('turns a non-zero exit into an error carrying the stderr text', async () => {
    const fake = new PveFake().on(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '101', ...J], { exitCode: 255, stderr: FIXTURES.err_newid_exists as string });
    const { pv, dispose } = runtime(fake);
    const e = await pv.task('create', '/nodes/pve-01/qemu/9000/clone', [['newid', 101]], { errorCode: 'vm_creation_failed' }).catch((x: unknown) => x);
    dispose();
    expect(e).toMatchObject({ errorCode: 'vm_creation_failed', retryable: false, kind: 'exists', exitStatus: 255 });
    expect((e as Error).message).toBe('pvesh create /nodes/pve-01/qemu/9000/clone failed (exit 255): 400 Parameter verification failed. | newid: VM 101 already exists');
  });

  it('refuses a worker call that printed no UPID', async () => {
    const fake = new PveFake().on(['create', '/cluster/sdn', ...J], json(null));
    const { pv, dispose } = runtime(fake);
    await expect(pv.task('create', '/cluster/sdn')).rejects.toMatchObject({ errorCode: 'pvesh_bad_output' });
    dispose();
  });

  it('waits on a UPID when a call returns one (resize on newer Proxmox) and not otherwise', async () => {
    const u = upid('resize', 101);
    const fake = new PveFake()
      .on(['set', '/nodes/pve-01/qemu/101/resize', ...J], worker(u))
      .on(['get', `/nodes/pve-01/tasks/${u}/status`, ...J], json(taskStatus(u, 'OK')))
      .on(['set', '/nodes/pve-01/qemu/102/resize', ...J], json(null));
    const { pv, dispose } = runtime(fake);
    await expect(pv.maybeTask('set', '/nodes/pve-01/qemu/101/resize')).resolves.toMatchObject({ exitstatus: 'OK' });
    await expect(pv.maybeTask('set', '/nodes/pve-01/qemu/102/resize')).resolves.toBeNull();
    dispose();
  });
});
