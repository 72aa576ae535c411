import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { labPaths, readJsonLines, readState, writeLabConfig, writeState } from '../../../../src/lab/lab-dir.js';
import { pveModule } from '../../../../src/lab/pve/module.js';
import { runPvesh } from '../../../../src/lab/pve/pvesh.js';
import type { PveState } from '../../../../src/lab/pve/state.js';
import { waitFor } from '../../../helpers/wait.js';

const J = ['--output-format', 'json'];
let lab: string;

beforeEach(() => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-pve-lab-'));
  pveModule.seed(lab);
  writeLabConfig(lab, { latency: 0.2, faults: [] });
});
afterEach(() => rmSync(lab, { recursive: true, force: true }));

const env = (extra: Record<string, string> = {}) => ({ CORTEX_LAB_DIR: lab, ...extra });
const pvesh = (...args: string[]) => runPvesh(args, env());
const state = () => readState<PveState>(lab, 'pve', () => ({}) as PveState);

const CLONE_USAGE = 'pvesh create <api_path> --newid <integer> [OPTIONS] [FORMAT_OPTIONS]\n';
const GET_USAGE = 'pvesh get <api_path> [OPTIONS] [FORMAT_OPTIONS]\n';
const SET_USAGE = 'pvesh set <api_path> [OPTIONS] [FORMAT_OPTIONS]\n';
const CONFIG = '/nodes/pve-02/qemu/112/config';

describe('lab pvesh: command line and errors like the real one', () => {
  it.each([
    [[], /^ERROR: no command specified\nUSAGE: pvesh <COMMAND>/],
    [['frobnicate', '/nodes'], /^ERROR: unknown command 'pvesh frobnicate'/],
    [['get'], `400 not enough arguments\n${GET_USAGE}`],
    [['get', '/nodes/pve-01/qemu/999/config', ...J], "Configuration file 'nodes/pve-01/qemu-server/999.conf' does not exist\n"],
    [['get', '/nodes/pve-09/status'], "hostname lookup 'pve-09' failed - failed to get address info for: pve-09: Name or service not known\n"],
    [['get', '/nodes/pve-01/qemu/abc/config'], `400 Parameter verification failed.\nvmid: type check ('integer') failed - got 'abc'\n${GET_USAGE}`],
    [['get', '/nodes/pve-01/qemu/99/config'], `400 Parameter verification failed.\nvmid: invalid format - value does not look like a valid VM ID\n\n${GET_USAGE}`],
    [['get', '/cluster/nextid', '--vmid', '101', ...J], `400 Parameter verification failed.\nvmid: VM 101 already exists\n${GET_USAGE}`],
    [['get', '/cluster/resources', '--type', 'vms'], `400 Parameter verification failed.\ntype: value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'\n${GET_USAGE}`],
    [['get', '/cluster/nextid', '--output-format', 'xml'], `400 Parameter verification failed.\noutput-format: value 'xml' does not have a value in the enumeration 'text, json, json-pretty, yaml'\n${GET_USAGE}`],
    // Getopt::Long rejects an option the method does not have before the schema is consulted.
    [['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '300', '--bogus', '1', ...J], `Unknown option: bogus\n400 unable to parse option\n${CLONE_USAGE}`],
    [['set', CONFIG, '--node', 'pve-01', ...J], `Unknown option: node\n400 unable to parse option\n${SET_USAGE}`],
    [['set', CONFIG, '--vm', '1', ...J], `Option vm is ambiguous (vmgenid, vmstatestorage)\n400 unable to parse option\n${SET_USAGE}`],
    [['get', '/cluster/nextid', '--vmid'], `Option vmid requires an argument\n400 unable to parse option\n${GET_USAGE}`],
    [['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '300', '--full', 'maybe', ...J], `400 unable to parse boolean option\n${CLONE_USAGE}`],
    [['create', '/nodes/pve-01/qemu/9000/clone', '--name', 'x', ...J], `400 Parameter verification failed.\nnewid: property is missing and it is not optional\n${CLONE_USAGE}`],
    [['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '101', ...J], `400 Parameter verification failed.\nnewid: VM 101 already exists\n${CLONE_USAGE}`],
    [['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '300', '--name', 'bad_name', ...J], `400 Parameter verification failed.\nname: invalid format - value does not look like a valid DNS name\n\n${CLONE_USAGE}`],
    [['set', CONFIG, '--cores', '0', ...J], `400 Parameter verification failed.\ncores: value must have a minimum value of 1\n${SET_USAGE}`],
    [['set', CONFIG, '--cpulimit', '129', ...J], `400 Parameter verification failed.\ncpulimit: value must have a maximum value of 128\n${SET_USAGE}`],
    [['set', CONFIG, '--cores', 'four', ...J], `400 Parameter verification failed.\ncores: type check ('integer') failed - got 'four'\n${SET_USAGE}`],
    [['set', CONFIG, '--description', 'x'.repeat(8193), ...J], `400 Parameter verification failed.\ndescription: value may only be 8192 characters long\n${SET_USAGE}`],
    [['set', CONFIG, '--bootdisk', 'nvme0', ...J], `400 Parameter verification failed.\nbootdisk: value does not match the regex pattern\n${SET_USAGE}`],
    [['set', CONFIG, '--tags', 'cortex;bad tag!', ...J], `400 Parameter verification failed.\ntags: invalid format - invalid characters in tag\n\n${SET_USAGE}`],
    [['create', '/cluster/firewall/ipset', '--name', `pool-${'x'.repeat(60)}`, ...J], `400 Parameter verification failed.\nname: value may only be 64 characters long\n${'pvesh create <api_path> --name <string> [OPTIONS] [FORMAT_OPTIONS]\n'}`],
    [['delete', '/nodes/pve-02/qemu/112', ...J], 'VM 112 is running - destroy failed\n'],
    [['create', '/nodes/pve-01/qemu/9000/status/start', ...J], "you can't start a vm if it's a template\n"],
    [
      ['create', '/nodes/pve-02/qemu/112/firewall/rules', '--type', 'in', '--action', 'ACCEPT', '--dport', '22', '--source', 'jumphost', ...J],
      `400 Parameter verification failed.\nproto: missing property - 'dport' requires this property\nsource: no such alias 'jumphost'\npvesh create <api_path> --action <string> --type <string> [OPTIONS] [FORMAT_OPTIONS]\n`,
    ],
  ])('pvesh %j', async (args, stderr) => {
    const r = await pvesh(...(args as string[]));
    expect(r.exitCode).toBe(255);
    expect(r.stdout).toBe('');
    if (typeof stderr === 'string') expect(r.stderr).toBe(stderr);
    else expect(r.stderr).toMatch(stderr);
  });

  it.each([
    [['get', '/nodes/x/foo'], "No 'get' handler defined for '/nodes/x/foo'\n"],
    [['create', '/cluster/nextid'], "No 'create' handler defined for '/cluster/nextid'\n"],
    [['set', '/version', '--foo', '1'], "No 'set' handler defined for '/version'\n"],
  ])('an unknown path or method: pvesh %j exits 1 before parsing options', async (args, stderr) => {
    expect(await pvesh(...args)).toEqual({ stdout: '', stderr, exitCode: 1 });
  });

  it('starts from the seed when the lab holds the old placeholder state {}', async () => {
    writeState(lab, 'pve', {});
    expect((await pvesh('get', '/cluster/nextid', ...J)).stdout).toBe('100\n');
    expect((await pvesh('set', '/nodes/pve-02/qemu/112/config', '--cores', '6', ...J)).exitCode).toBe(0);
    expect(state().vms.length).toBeGreaterThan(10);
  });

  it('records every invocation', async () => {
    await runPvesh(['get', '/cluster/nextid', ...J], env({ CORTEX_ACTION_ID: 'provision-cp-01', CORTEX_EXECUTION_ID: 'e1', CORTEX_ATTEMPT: '2' }));
    await pvesh('get', '/nope');
    const lines = readJsonLines<{ tool: string; args: string[]; action_id: string | null; attempt: number }>(labPaths(lab).invocations);
    expect(lines.map((l) => [l.tool, l.args, l.action_id, l.attempt])).toEqual([
      ['pvesh', ['get', '/cluster/nextid', ...J], 'provision-cp-01', 2],
      ['pvesh', ['get', '/nope'], null, 1],
    ]);
  });
});

describe('lab pvesh: output formats', () => {
  it('prints one line of canonical JSON, scalars bare', async () => {
    expect((await pvesh('get', '/cluster/nextid', ...J)).stdout).toBe('100\n');
    expect((await pvesh('set', '/nodes/pve-02/qemu/112/config', '--cores', '6', ...J)).stdout).toBe('null\n');
    const r = await pvesh('get', '/nodes/pve-02/qemu/112/status/current', ...J);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const keys = Object.keys(JSON.parse(r.stdout) as object);
    expect(keys).toEqual([...keys].sort());
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'running', vmid: 112, name: 'k8s-worker-02', cpus: 6 });
  });

  it('lists VMs, nodes and storages with the real shapes', async () => {
    const vms = JSON.parse((await pvesh('get', '/cluster/resources', '--type', 'vm', ...J)).stdout) as Array<Record<string, unknown>>;
    expect(vms.find((v) => v.vmid === 9000)).toMatchObject({ id: 'qemu/9000', type: 'qemu', name: 'talos-tmpl', node: 'pve-01', status: 'stopped', template: 1 });
    expect(vms.find((v) => v.name === 'k8s-worker-02')).toMatchObject({ node: 'pve-02', status: 'running', template: 0, tags: 'cortex;k8s;worker;prod-k8s-01' });
    const nodes = JSON.parse((await pvesh('get', '/cluster/resources', '--type', 'node', ...J)).stdout) as Array<Record<string, unknown>>;
    expect(nodes.map((n) => n.node)).toEqual(['pve-01', 'pve-02', 'dc2-pve-01', 'dc2-pve-02']);
    const st = JSON.parse((await pvesh('get', '/nodes/dc2-pve-01/storage', '--content', 'images', ...J)).stdout) as Array<Record<string, unknown>>;
    expect(st.map((s) => s.storage)).toEqual(['local-lvm', 'local-zfs', 'ceph-dr']);
    expect(st[2]).toMatchObject({ type: 'rbd', shared: 1, active: 1 });
  });

  it('text output is a table; ls lists children', async () => {
    expect((await pvesh('get', '/cluster/nextid')).stdout).toBe('100\n');
    expect((await pvesh('get', '/nodes/pve-01/status')).stdout).toMatch(/^┌─+┬─+┐\n│ key +│ value +│/);
    expect((await pvesh('ls', '/nodes/pve-01')).stdout).toContain('Dr-c-        qemu\n');
    expect((await pvesh('usage', '/cluster/nextid')).stdout).toBe('USAGE: pvesh get /cluster/nextid [OPTIONS] [FORMAT_OPTIONS]\n');
    expect((await pvesh('usage', '/nodes/pve-01/qemu/9000/clone')).stdout).toBe('USAGE: pvesh create /nodes/pve-01/qemu/9000/clone --newid <integer> [OPTIONS] [FORMAT_OPTIONS]\n');
    expect((await pvesh('ls', '/nodes')).stdout).toBe('Dr---        pve-01\nDr---        pve-02\nDr---        dc2-pve-01\nDr---        dc2-pve-02\n');
  });
});

describe('lab pvesh: tasks', () => {
  it('runs a worker call in the foreground: log lines, then the UPID; the task is pollable', async () => {
    const r = await pvesh('create', '/nodes/pve-01/qemu/9000/clone', '--newid', '300', '--name', 'test-vm', '--full', '1', '--storage', 'ceph-rbd', ...J);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('create full clone of drive scsi0 (ceph-rbd:base-9000-disk-0)');
    const upid = JSON.parse(lines.at(-1) as string) as string;
    expect(upid).toMatch(/^UPID:pve-01:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:qmclone:9000:root@pam:$/);
    const st = JSON.parse((await pvesh('get', `/nodes/pve-01/tasks/${upid}/status`, ...J)).stdout) as Record<string, unknown>;
    expect(st).toMatchObject({ status: 'stopped', exitstatus: 'OK', type: 'qmclone', id: '9000', node: 'pve-01', upid, user: 'root@pam' });
    const log = JSON.parse((await pvesh('get', `/nodes/pve-01/tasks/${upid}/log`, '--limit', '50', ...J)).stdout) as Array<{ n: number; t: string }>;
    expect(log.at(-1)).toEqual({ n: log.length, t: 'TASK OK' });
    // the status must be read on the task's node
    expect((await pvesh('get', `/nodes/pve-02/tasks/${upid}/status`, ...J)).stderr).toBe(`400 Parameter verification failed.\nupid: no such task\n${GET_USAGE}`);
    expect(state().vms.find((v) => v.vmid === 300)).toMatchObject({ name: 'test-vm', node: 'pve-01', status: 'stopped', template: false });
    expect(state().vms.find((v) => v.vmid === 300)?.lock).toBeUndefined();
  });

  it('shows the task running while it runs', async () => {
    writeLabConfig(lab, { latency: 10, faults: [] }); // 300 ms task
    const clone = pvesh('create', '/nodes/pve-01/qemu/9000/clone', '--newid', '401', '--name', 'slow', ...J);
    const running = await waitFor(() => state().tasks.find((t) => t.type === 'qmclone'), { what: 'the clone task in the lab state', timeoutMs: 5000 });
    expect(running?.status).toBe('running');
    const st = JSON.parse((await pvesh('get', `/nodes/pve-01/tasks/${running?.upid}/status`, ...J)).stdout) as Record<string, unknown>;
    expect(st.status).toBe('running');
    expect(st).not.toHaveProperty('exitstatus');
    expect(state().vms.find((v) => v.vmid === 401)?.lock).toBe('clone');
    expect((await clone).exitCode).toBe(0);
    expect(state().vms.find((v) => v.vmid === 401)?.lock).toBeUndefined();
  });

  it('--simulate-fail: the first worker task fails like Proxmox (exit 0, stderr, failed status), later ones work', async () => {
    writeLabConfig(lab, { latency: 0.2, faults: [{ action_id: 'provision-cp-01', attempts: 1 }] });
    const e = env({ CORTEX_ACTION_ID: 'provision-cp-01', CORTEX_EXECUTION_ID: 'exec-1', CORTEX_ATTEMPT: '1' });
    const r = await runPvesh(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '300', '--name', 'cp', '--full', '1', '--storage', 'ceph-rbd', ...J], e);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe("clone failed: storage 'ceph-rbd' is not available on node 'pve-01'\n");
    const upid = JSON.parse(r.stdout.trimEnd().split('\n').at(-1) as string) as string;
    const st = JSON.parse((await runPvesh(['get', `/nodes/pve-01/tasks/${upid}/status`, ...J], e)).stdout) as Record<string, unknown>;
    expect(st).toMatchObject({ status: 'stopped', exitstatus: "clone failed: storage 'ceph-rbd' is not available on node 'pve-01'" });
    expect(state().vms.some((v) => v.vmid === 300)).toBe(false);
    // the same attempt's next worker call is not failed again (cleanup must work)
    const again = await runPvesh(['create', '/nodes/pve-02/qemu/112/status/stop', ...J], e);
    expect(again.stderr).toBe('');
    // reads used by checks report a degraded cluster
    const status = JSON.parse((await runPvesh(['get', '/cluster/status', ...J], e)).stdout) as Array<Record<string, unknown>>;
    expect(status[0]).toMatchObject({ type: 'cluster', quorate: 0 });
    // attempt 2 is not failed
    const ok = await runPvesh(['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '300', '--name', 'cp', ...J], { ...e, CORTEX_ATTEMPT: '2' });
    expect(ok.stderr).toBe('');
  });

  it('--simulate-fail on a synchronous change: a lock timeout, exit 255', async () => {
    writeLabConfig(lab, { latency: 0.2, faults: [{ action_id: 'apply-firewall-rules', attempts: null }] });
    const e = env({ CORTEX_ACTION_ID: 'apply-firewall-rules' });
    const r = await runPvesh(['create', '/nodes/pve-02/qemu/112/firewall/rules', '--type', 'in', '--action', 'DROP', ...J], e);
    expect(r).toEqual({ stdout: '', stderr: "can't lock file '/var/lock/qemu-server/lock-112.conf' - got timeout\n", exitCode: 255 });
    expect(state().vms.find((v) => v.vmid === 112)?.firewall.rules).toEqual([]);
  });

  it('a task that fails on its own: starting a VM on a VNet that was never applied', async () => {
    await pvesh('create', '/cluster/sdn/zones', '--zone', 'k8s', '--type', 'vlan', '--bridge', 'vmbr0', ...J);
    await pvesh('create', '/cluster/sdn/vnets', '--vnet', 'k8s10', '--zone', 'k8s', '--tag', '10', ...J);
    await pvesh('set', '/nodes/pve-01/qemu/101/config', '--net0', 'virtio,bridge=k8s10', ...J);
    await pvesh('create', '/nodes/pve-01/qemu/101/status/stop', ...J);
    const r = await pvesh('create', '/nodes/pve-01/qemu/101/status/start', ...J);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe("bridge 'k8s10' does not exist\n");
    const pending = JSON.parse((await pvesh('get', '/cluster/sdn/vnets', '--pending', '1', ...J)).stdout) as Array<Record<string, unknown>>;
    expect(pending[0]).toMatchObject({ vnet: 'k8s10', state: 'new' });
    const apply = await pvesh('set', '/cluster/sdn', ...J);
    expect(JSON.parse(apply.stdout.trimEnd().split('\n').at(-1) as string)).toMatch(/^UPID:pve-01:.*:reloadnetworkall::root@pam:$/);
    expect((await pvesh('create', '/nodes/pve-01/qemu/101/status/start', ...J)).stderr).toBe('');
    // the new NIC got a MAC
    expect(state().vms.find((v) => v.vmid === 101)?.config.net0).toMatch(/^virtio=BC:24:11:[0-9A-F:]{8},bridge=k8s10$/);
  });

  it.skipIf(!existsSync(new URL('../../../../dist/lab/pve/pvesh-main.js', import.meta.url)))('runs as a process from the compiled entry', async () => {
    const entry = new URL('../../../../dist/lab/pve/pvesh-main.js', import.meta.url).pathname;
    const run = promisify(execFile);
    const ok = await run(process.execPath, [entry, 'get', '/cluster/nextid', ...J], { env: { ...process.env, CORTEX_LAB_DIR: lab } });
    expect(ok.stdout).toBe('100\n');
    const bad = await run(process.execPath, [entry, 'get', '/nodes/x/foo'], { env: { ...process.env, CORTEX_LAB_DIR: lab } }).catch((e: { code: number; stderr: string }) => e);
    expect(bad).toMatchObject({ code: 1, stderr: "No 'get' handler defined for '/nodes/x/foo'\n" });
  });
});
