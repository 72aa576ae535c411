/**
 * The lab's Proxmox answers by the published API schema (upstream/pve-api.json): the table covers
 * every route the lab serves, and calls that break it fail with PVE::JSONSchema's texts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeLabConfig } from '../../../../src/lab/lab-dir.js';
import { ROUTES } from '../../../../src/lab/pve/core.js';
import { pveModule } from '../../../../src/lab/pve/module.js';
import { runPvesh } from '../../../../src/lab/pve/pvesh.js';
import { apiDigest, findEndpoint, METHOD_OF, methodSchema, parsePropertyString, validateCall } from '../../../../src/lab/pve/schema.js';

const J = ['--output-format', 'json'];
let lab: string;
beforeEach(() => {
  lab = mkdtempSync(join(tmpdir(), 'cortex-pve-schema-'));
  pveModule.seed(lab);
  writeLabConfig(lab, { latency: 0.1, faults: [] });
});
afterEach(() => rmSync(lab, { recursive: true, force: true }));
const pvesh = (...args: string[]) => runPvesh(args, { CORTEX_LAB_DIR: lab });
const CONFIG = '/nodes/pve-02/qemu/112/config';
const SET_USAGE = 'pvesh set <api_path> [OPTIONS] [FORMAT_OPTIONS]\n';

describe('the API digest', () => {
  it('says where it came from and covers every method the lab serves', () => {
    const d = apiDigest();
    expect(d).toMatchObject({ source: 'proxmox/pve-docs api-viewer/apidata.js', commit: 'e5010dcea566a205770572cfbc5fe0af220d5077' });
    const missing: string[] = [];
    for (const r of ROUTES) {
      for (const cmd of ['get', 'set', 'create', 'delete'] as const) {
        if (r[cmd] && !methodSchema(r.path, METHOD_OF[cmd] as 'GET')) missing.push(`${cmd} ${r.path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('finds endpoints like find_handler: literal segments before placeholders', () => {
    expect(findEndpoint('/nodes/pve-01/qemu/100/status/current')).toEqual({ template: '/nodes/{node}/qemu/{vmid}/status/current', params: { node: 'pve-01', vmid: '100' } });
    expect(findEndpoint('/cluster/firewall/ipset/web/10.0.0.1')?.template).toBe('/cluster/firewall/ipset/{name}/{cidr}');
    expect(findEndpoint('/nodes/pve-01/frobnicate')).toBeUndefined();
  });
});

describe('indexed parameters (net[n], ipconfig[n], scsi[n]) as Proxmox has them', () => {
  const set = methodSchema('/nodes/{node}/qemu/{vmid}/config', 'PUT');
  const check = (params: Record<string, string>) => validateCall(set!, { node: 'pve-01', vmid: '100', ...params });

  it('x0 .. x<count-1> exist, and nothing past them', () => {
    expect(check({ net0: 'virtio,bridge=vmbr0', net31: 'virtio,bridge=vmbr0', ipconfig31: 'ip=dhcp', scsi30: 'ceph-rbd:4', virtio15: 'ceph-rbd:4', ide3: 'none,media=cdrom' })).toEqual({});
    const past = 'property is not defined in schema and the schema does not allow additional properties';
    expect(check({ net32: 'virtio', scsi31: 'ceph-rbd:4', virtio16: 'ceph-rbd:4', ide4: 'none', net01: 'virtio' })).toEqual({ net32: past, scsi31: past, virtio16: past, ide4: past, net01: past });
  });

  it('property strings: keys, aliases, default keys and sub-value limits', () => {
    expect(check({ net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0,firewall=1,queues=4,mtu=1450,rate=12.5,link_down=0,tag=30' })).toEqual({});
    expect(check({ net0: 'virtio,bridge=vmbr0,queues=65' })).toEqual({ net0: 'invalid format - format error\nnet0.queues: value must have a maximum value of 64\n' });
    expect(check({ net0: 'virtio,bridge=vmbr0,speed=10' })).toEqual({ net0: 'invalid format - invalid key in comma-separated list property: speed\n' });
    expect(check({ net0: 'bridge=vmbr0' })).toEqual({ net0: 'invalid format - format error\nnet0.model: property is missing and it is not optional\n' });
    expect(check({ net0: 'virtio,bridge=vmbr0,tag=0' })).toEqual({ net0: 'invalid format - format error\nnet0.tag: value must have a minimum value of 1\n' });
    expect(check({ net0: 'virtio=01:24:11:00:00:01,bridge=vmbr0' })).toEqual({ net0: 'invalid format - format error\nnet0.macaddr: invalid format - value does not look like a valid unicast MAC address\n\n' });
    expect(check({ ipconfig0: 'ip=10.0.0.5/24,gw=10.0.0.1' })).toEqual({});
    expect(check({ ipconfig0: 'ip=10.0.0.5,gw=10.0.0.1' })).toEqual({ ipconfig0: 'invalid format - format error\nipconfig0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n' });
    expect(check({ ipconfig0: 'gw=10.0.0.1' })).toEqual({ ipconfig0: "invalid format - format error\nipconfig0.ip: missing property required by 'ipconfig0.gw'\n" });
  });

  it('parses like parse_property_string: duplicates and keyless values', () => {
    const fmt = set!.params['net[n]']!.format as Record<string, never>;
    expect(parsePropertyString(fmt, 'virtio,e1000', 'net0')).toBe('duplicate key in comma-separated list property: model\n');
    expect(parsePropertyString(fmt, 'virtio,bridge=a,bridge=b', 'net0')).toBe('duplicate key in comma-separated list property: bridge\n');
    expect(parsePropertyString(fmt, 'virtio,bridge=', 'net0')).toBe('missing key in comma-separated list property\n');
  });
});

describe('pvesh against the schema', () => {
  it('lists: space-, comma- and semicolon-separated nameservers and tags are one valid value', async () => {
    const r = await pvesh('set', CONFIG, '--nameserver', '1.1.1.1 9.9.9.9', '--searchdomain', 'cortex.local', '--tags', 'cortex;monitoring;production', ...J);
    expect(r).toEqual({ stdout: 'null\n', stderr: '', exitCode: 0 });
    expect((await pvesh('set', CONFIG, '--nameserver', '1.1.1.1 not_an_address', ...J)).stderr).toBe(
      `400 Parameter verification failed.\nnameserver: invalid format - value does not look like a valid address: not_an_address\n\n${SET_USAGE}`,
    );
  });

  it('a NIC with every option survives a set and reads back', async () => {
    const nic = 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,firewall=1,queues=4,mtu=1450,rate=100,link_down=1';
    expect((await pvesh('set', CONFIG, '--net1', nic, ...J)).exitCode).toBe(0);
    expect(JSON.parse((await pvesh('get', CONFIG, ...J)).stdout).net1).toBe(nic);
  });
});
