import { describe, expect, it } from 'vitest';
import { compensationOf, runAction } from './helpers.js';
import { J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

const PARAMS = { zone: 'k8s', vnet: 'k8s10', tag: 10, zone_type: 'vlan', bridge: 'vmbr0', alias: 'prod-k8s-02 nodes', subnet: '10.10.1.0/24', gateway: '10.10.1.1' };
const ZONE = ['create', '/cluster/sdn/zones', '--zone', 'k8s', '--type', 'vlan', '--bridge', 'vmbr0'];
const VNET = ['create', '/cluster/sdn/vnets', '--vnet', 'k8s10', '--zone', 'k8s', '--tag', '10', '--alias', 'prod-k8s-02 nodes'];
const SUBNET = ['create', '/cluster/sdn/vnets/k8s10/subnets', '--subnet', '10.10.1.0/24', '--type', 'subnet', '--gateway', '10.10.1.1'];

describe('create_sdn_vnet', () => {
  it('creates the zone, the VNet and the subnet, then applies (waited)', async () => {
    const apply = upid('reloadnetworkall', '');
    const fake = new PveFake()
      .get('/cluster/sdn/vnets', [])
      .get('/cluster/sdn/zones', [])
      .on([...ZONE, ...J], json(null))
      .on([...VNET, ...J], json(null))
      .on([...SUBNET, ...J], json(null))
      .task(['set', '/cluster/sdn'], apply, { log: ['pve-01: reload network configuration'] });
    const r = await runAction('create_sdn_vnet', PARAMS, fake);
    expect(r.error).toBeUndefined();
    expect(r.outputs).toEqual({ vnet: 'k8s10', zone: 'k8s', tag: 10, zone_created: true, existed: false });
    expect(r.calls).toEqual([
      ['get', '/cluster/sdn/vnets', ...J],
      ['get', '/cluster/sdn/zones', ...J],
      [...ZONE, ...J],
      [...VNET, ...J],
      [...SUBNET, ...J],
      ['set', '/cluster/sdn', ...J],
      ['get', `/nodes/pve-01/tasks/${apply}/status`, ...J],
    ]);
    expect(compensationOf('create_sdn_vnet', PARAMS, r.outputs as Record<string, unknown>)).toEqual({
      action: 'delete_sdn_vnet',
      params: { vnet: 'k8s10', zone: 'k8s', delete_zone: true, skip: false, apply: true },
    });
  });

  it('reuses an existing VNet with the same zone and tag (compensation then skips)', async () => {
    const fake = new PveFake()
      .get('/cluster/sdn/vnets', [{ vnet: 'k8s10', zone: 'k8s', tag: 10, type: 'vnet' }])
      .get('/cluster/sdn/vnets/k8s10/subnets', [{ subnet: 'k8s-10.10.1.0-24', cidr: '10.10.1.0/24', vnet: 'k8s10', zone: 'k8s' }])
      .task(['set', '/cluster/sdn'], upid('reloadnetworkall', ''));
    const r = await runAction('create_sdn_vnet', PARAMS, fake);
    expect(r.outputs).toEqual({ vnet: 'k8s10', zone: 'k8s', tag: 10, zone_created: false, existed: true });
    expect(r.calls.filter((c) => c[0] === 'create')).toEqual([]);
    expect(compensationOf('create_sdn_vnet', PARAMS, r.outputs as Record<string, unknown>).params.skip).toBe(true);
  });

  it('refuses a VNet of that name in another zone or with another tag, or a tag already used', async () => {
    const r = await runAction('create_sdn_vnet', PARAMS, new PveFake().get('/cluster/sdn/vnets', [{ vnet: 'k8s10', zone: 'k8s', tag: 11 }]));
    expect(r.error).toMatchObject({ errorCode: 'network_vlan_conflict', retryable: false });
    const r2 = await runAction('create_sdn_vnet', PARAMS, new PveFake().get('/cluster/sdn/vnets', [{ vnet: 'legacy', zone: 'k8s', tag: 10 }]));
    expect(r2.error?.message).toBe('tag 10 is already used by VNet legacy in zone k8s');
  });

  it('fails when the SDN apply task fails (exit 0, failed task)', async () => {
    const msg = "pve-01: reloading network config failed: command 'ifreload -a' failed: exit code 1";
    const fake = new PveFake()
      .get('/cluster/sdn/vnets', [])
      .get('/cluster/sdn/zones', [{ zone: 'k8s', type: 'vlan', bridge: 'vmbr0' }])
      .on([...VNET, ...J], json(null))
      .task(['set', '/cluster/sdn'], upid('reloadnetworkall', ''), { stderr: msg, statuses: [msg] });
    const r = await runAction('create_sdn_vnet', { ...PARAMS, subnet: undefined, gateway: undefined }, fake);
    expect(r.error).toMatchObject({ errorCode: 'sdn_apply_failed' });
    expect(r.error?.message).toContain(msg);
  });
});

describe('delete_sdn_vnet', () => {
  it('checks no VM uses it, deletes subnets, the VNet and the empty zone, then applies', async () => {
    const fake = new PveFake()
      .get('/cluster/sdn/vnets', [{ vnet: 'k8s10', zone: 'k8s', tag: 10 }])
      .on(RES_VM, json([vmRes(101, 'k8s-cp-01', 'pve-01'), vmRes(9000, 't', 'pve-01', { template: 1 })]))
      .get('/nodes/pve-01/qemu/101/config', { net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0' })
      .get('/cluster/sdn/vnets/k8s10/subnets', [{ subnet: 'k8s-10.10.1.0-24', cidr: '10.10.1.0/24' }])
      .on(['delete', '/cluster/sdn/vnets/k8s10/subnets/k8s-10.10.1.0-24', ...J], json(null))
      .on(['delete', '/cluster/sdn/vnets/k8s10', ...J], json(null))
      .get('/cluster/sdn/zones', [{ zone: 'k8s', type: 'vlan' }])
      .on(['delete', '/cluster/sdn/zones/k8s', ...J], json(null))
      .task(['set', '/cluster/sdn'], upid('reloadnetworkall', ''));
    const r = await runAction('delete_sdn_vnet', { vnet: 'k8s10', zone: 'k8s', delete_zone: true }, fake);
    expect(r.outputs).toEqual({ vnet: 'k8s10', deleted: true, zone_deleted: true });
    expect(r.calls.filter((c) => c[0] !== 'get').map((c) => c.slice(0, 2))).toEqual([
      ['delete', '/cluster/sdn/vnets/k8s10/subnets/k8s-10.10.1.0-24'],
      ['delete', '/cluster/sdn/vnets/k8s10'],
      ['delete', '/cluster/sdn/zones/k8s'],
      ['set', '/cluster/sdn'],
    ]);
  });

  it('fails while a VM uses the VNet; skip and a missing VNet do nothing', async () => {
    const fake = new PveFake()
      .get('/cluster/sdn/vnets', [{ vnet: 'k8s10', zone: 'k8s', tag: 10 }])
      .on(RES_VM, json([vmRes(101, 'prod-k8s-02-cp-01', 'pve-01')]))
      .get('/nodes/pve-01/qemu/101/config', { net0: 'virtio=BC:24:11:00:00:01,bridge=k8s10,firewall=1' });
    const r = await runAction('delete_sdn_vnet', { vnet: 'k8s10' }, fake);
    expect(r.error).toMatchObject({ errorCode: 'sdn_vnet_in_use' });
    const skip = await runAction('delete_sdn_vnet', { vnet: 'k8s10', skip: true }, new PveFake());
    expect(skip.outputs).toEqual({ vnet: 'k8s10', deleted: false, zone_deleted: false });
    expect(skip.calls).toEqual([]);
    const gone = await runAction('delete_sdn_vnet', { vnet: 'k8s10' }, new PveFake().get('/cluster/sdn/vnets', []));
    expect(gone.outputs).toEqual({ vnet: 'k8s10', deleted: false, zone_deleted: false });
  });
});
