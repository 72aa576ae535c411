import { describe, expect, it } from 'vitest';
import { compensationOf, runAction } from './helpers.js';
import { J, json, PveFake, RES_VM, upid, vmRes } from './pve-fake.js';

describe('firewall-rules', () => {
  const W2 = vmRes(112, 'k8s-worker-02', 'pve-02');
  const BASE = '/nodes/pve-02/qemu/112';
  const CONFIG = { name: 'k8s-worker-02', ipconfig0: 'ip=10.10.1.21/24,gw=10.10.1.1', net0: 'virtio=BC:24:11:00:00:70,bridge=vmbr0,firewall=1', agent: 1 };
  const INCIDENT = {
    target: 'k8s-worker-02',
    policy: 'deny_all',
    exceptions: [
      { source: 'bastion_host', destination: 'k8s-worker-02', port: 22, protocol: 'tcp', purpose: 'forensics_access' },
      { source: 'monitoring_server', destination: 'k8s-worker-02', port: 9100, protocol: 'tcp', purpose: 'metrics_collection' },
    ],
  };
  const rule = (pos: number, extra: Record<string, unknown>) => ({ pos, type: 'in', action: 'ACCEPT', enable: 1, digest: 'd1', ...extra });
  const DC = '/cluster/firewall/options';
  const ADD_METRICS = ['create', `${BASE}/firewall/rules`, '--type', 'in', '--action', 'ACCEPT', '--proto', 'tcp', '--dport', '9100', '--source', 'monitoring_server', '--enable', '1', '--comment', 'cortex:metrics_collection'];

  describe('apply_firewall_rules', () => {
    it('keeps matching tagged rules, replaces stale ones, adds missing ones, then enables deny-all', async () => {
      const before = [
        rule(0, { proto: 'tcp', dport: '22', source: 'bastion_host', comment: 'cortex:forensics_access' }),
        rule(1, { macro: 'SSH', comment: 'operator rule' }),
        rule(2, { proto: 'tcp', dport: '9090', source: 'monitoring_server', comment: 'cortex:metrics_collection' }),
      ];
      const after = [rule(0, { proto: 'tcp', dport: '9100', source: 'monitoring_server', comment: 'cortex:metrics_collection' }), before[0], before[1]];
      const fake = new PveFake()
        .on(RES_VM, json([W2]))
        .get(`${BASE}/config`, CONFIG)
        .get(DC, { enable: 1, policy_in: 'DROP', digest: 'dc' })
        .on(['get', `${BASE}/firewall/rules`, ...J], json(before), json(after))
        .on(['delete', `${BASE}/firewall/rules/2`, ...J], json(null))
        .on([...ADD_METRICS, ...J], json(null))
        .get(`${BASE}/firewall/options`, { digest: 'x' })
        .on(['set', `${BASE}/firewall/options`, '--enable', '1', '--policy_in', 'DROP', '--policy_out', 'DROP', ...J], json(null));
      const r = await runAction('apply_firewall_rules', INCIDENT, fake);
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({
        vmid: 112,
        node: 'pve-02',
        rule_ids: ['forensics_access', 'metrics_collection'],
        rules_added: 1,
        previous_policy_in: null,
        previous_policy_out: null,
        previous_enable: false,
        datacenter_firewall_enabled: false,
        nic_firewall_enabled: [],
      });
      expect(r.calls).toEqual([
        RES_VM,
        ['get', `${BASE}/config`, ...J],
        ['get', DC, ...J],
        ['get', `${BASE}/firewall/rules`, ...J],
        ['delete', `${BASE}/firewall/rules/2`, ...J],
        [...ADD_METRICS, ...J],
        ['get', `${BASE}/firewall/options`, ...J],
        ['set', `${BASE}/firewall/options`, '--enable', '1', '--policy_in', 'DROP', '--policy_out', 'DROP', ...J],
        ['get', `${BASE}/firewall/rules`, ...J],
      ]);
      const comp = compensationOf('apply_firewall_rules', INCIDENT, r.outputs as Record<string, unknown>);
      expect(comp).toEqual({
        action: 'remove_firewall_rules',
        params: { vmid: 112, node: 'pve-02', rule_ids: ['forensics_access', 'metrics_collection'], policy_in: null, policy_out: null, enable_firewall: false, nic_firewall_off: [], disable_datacenter_firewall: false },
      });
    });

    it('refuses, before changing anything, when the rules would not be in force', async () => {
      const bare = { ...CONFIG, net0: 'virtio=BC:24:11:00:00:70,bridge=vmbr0', net1: 'virtio=BC:24:11:00:00:71,bridge=vmbr1,firewall=0' };
      const fake = new PveFake().on(RES_VM, json([W2])).get(`${BASE}/config`, bare).get(DC, { policy_in: 'DROP' });
      const r = await runAction('apply_firewall_rules', INCIDENT, fake);
      expect(r.error).toMatchObject({ errorCode: 'firewall_not_enforced', retryable: false });
      expect(r.error?.message).toBe('the firewall rules would not be in force on VM 112: the datacenter firewall is disabled (/cluster/firewall/options enable 0) and net0, net1 of VM 112 lack firewall=1');
      expect(r.calls.every((c) => c[0] === 'get')).toBe(true);
    });

    it('with enforce_firewall turns on the datacenter firewall and the NIC firewall, and rollback turns them off again', async () => {
      const bare = { ...CONFIG, net0: 'virtio=BC:24:11:00:00:70,bridge=vmbr0,tag=20' };
      const rules = [rule(0, { proto: 'tcp', dport: '22', source: 'bastion_host', comment: 'cortex:forensics_access' }), rule(1, { proto: 'tcp', dport: '9100', source: 'monitoring_server', comment: 'cortex:metrics_collection' })];
      const fake = new PveFake()
        .on(RES_VM, json([W2]))
        .get(`${BASE}/config`, bare)
        .get(DC, { enable: 0 })
        .on(['set', DC, '--enable', '1', ...J], json(null))
        .on(['set', `${BASE}/config`, '--net0', 'virtio=BC:24:11:00:00:70,bridge=vmbr0,tag=20,firewall=1', ...J], json(null))
        .get(`${BASE}/firewall/rules`, rules)
        .get(`${BASE}/firewall/options`, { enable: 1, policy_in: 'DROP', policy_out: 'DROP' });
      const r = await runAction('apply_firewall_rules', { ...INCIDENT, enforce_firewall: true }, fake);
      expect(r.error).toBeUndefined();
      expect(r.outputs).toMatchObject({ datacenter_firewall_enabled: true, nic_firewall_enabled: ['net0'] });
      const comp = compensationOf('apply_firewall_rules', INCIDENT, r.outputs as Record<string, unknown>);
      expect(comp.params).toMatchObject({ nic_firewall_off: ['net0'], disable_datacenter_firewall: true });
      const undo = new PveFake()
        .on(RES_VM, json([W2]))
        .get(`${BASE}/firewall/rules`, rules)
        .on(['delete', `${BASE}/firewall/rules/1`, ...J], json(null))
        .on(['delete', `${BASE}/firewall/rules/0`, ...J], json(null))
        .on(['set', `${BASE}/firewall/options`, '--enable', '1', '--policy_in', 'DROP', '--policy_out', 'DROP', ...J], json(null))
        .get(`${BASE}/config`, { ...bare, net0: 'virtio=BC:24:11:00:00:70,bridge=vmbr0,tag=20,firewall=1' })
        .on(['set', `${BASE}/config`, '--net0', 'virtio=BC:24:11:00:00:70,bridge=vmbr0,tag=20', ...J], json(null))
        .on(['set', DC, '--enable', '0', ...J], json(null));
      const u = await runAction(comp.action, comp.params, undo);
      expect(u.error).toBeUndefined();
      expect(undo.calls.filter((c) => c[0] === 'set')).toEqual([
        ['set', `${BASE}/firewall/options`, '--enable', '1', '--policy_in', 'DROP', '--policy_out', 'DROP', ...J],
        ['set', `${BASE}/config`, '--net0', 'virtio=BC:24:11:00:00:70,bridge=vmbr0,tag=20', ...J],
        ['set', DC, '--enable', '0', ...J],
      ]);
    });

    it('finds the target by IP (ipconfig0) and turns "from the target" into an out rule', async () => {
      const other = vmRes(111, 'k8s-worker-01', 'pve-01');
      const out = ['create', `${BASE}/firewall/rules`, '--type', 'out', '--action', 'ACCEPT', '--proto', 'tcp', '--dport', '9090', '--dest', 'monitoring_server', '--enable', '1', '--comment', 'cortex:metrics_collection'];
      const inn = ['create', `${BASE}/firewall/rules`, '--type', 'in', '--action', 'ACCEPT', '--proto', 'tcp', '--dport', '22', '--source', 'bastion_host', '--enable', '1', '--comment', 'cortex:forensics_access'];
      const fake = new PveFake()
        .on(RES_VM, json([other, W2, vmRes(9000, 'talos-tmpl', 'pve-01', { template: 1 })]))
        .get('/nodes/pve-01/qemu/111/config', { ipconfig0: 'ip=10.10.1.20/24' })
        .get(`${BASE}/config`, CONFIG)
        .get(DC, { enable: 1, policy_in: 'DROP', digest: 'dc' })
        .on(['get', `${BASE}/firewall/rules`, ...J], json([]), json([rule(0, { comment: 'cortex:forensics_access' }), rule(1, { type: 'out', comment: 'cortex:metrics_collection' })]))
        .on([...out, ...J], json(null))
        .on([...inn, ...J], json(null))
        .get(`${BASE}/firewall/options`, { enable: 1, policy_in: 'ACCEPT', digest: 'x' })
        .on(['set', `${BASE}/firewall/options`, '--policy_in', 'DROP', '--policy_out', 'DROP', ...J], json(null));
      const r = await runAction(
        'apply_firewall_rules',
        {
          target: '10.10.1.21',
          policy: 'deny_all',
          exceptions: [
            { source: 'bastion_host', destination: '10.10.1.21', port: 22, protocol: 'tcp', purpose: 'forensics_access' },
            { source: '10.10.1.21', destination: 'monitoring_server', port: 9090, protocol: 'tcp', purpose: 'metrics_collection' },
          ],
        },
        fake,
      );
      expect(r.error).toBeUndefined();
      expect(r.outputs).toMatchObject({ vmid: 112, rules_added: 2, previous_policy_in: 'ACCEPT', previous_enable: true });
      // created in reverse so that the first exception ends up on top (pvesh inserts at pos 0)
      expect(r.calls.filter((c) => c[0] === 'create')).toEqual([[...out, ...J], [...inn, ...J]]);
    });

    it('re-running changes nothing', async () => {
      const rules = [rule(0, { proto: 'tcp', dport: '22', source: 'bastion_host', comment: 'cortex:forensics_access' }), rule(1, { proto: 'tcp', dport: '9100', source: 'monitoring_server', comment: 'cortex:metrics_collection' })];
      const fake = new PveFake().on(RES_VM, json([W2])).get(`${BASE}/config`, CONFIG)
        .get(DC, { enable: 1, policy_in: 'DROP', digest: 'dc' }).get(`${BASE}/firewall/rules`, rules).get(`${BASE}/firewall/options`, { enable: 1, policy_in: 'DROP', policy_out: 'DROP' });
      const r = await runAction('apply_firewall_rules', INCIDENT, fake);
      expect(r.outputs).toMatchObject({ rules_added: 0 });
      expect(r.calls.every((c) => c[0] === 'get')).toBe(true);
    });

    it('fails with the Proxmox parameter error for an unknown alias', async () => {
      const fake = new PveFake()
        .on(RES_VM, json([W2]))
        .get(`${BASE}/config`, CONFIG)
        .get(DC, { enable: 1, policy_in: 'DROP', digest: 'dc' })
        .get(`${BASE}/firewall/rules`, [])
        .on(['create', `${BASE}/firewall/rules`, '--type', 'in', '--action', 'ACCEPT', '--proto', 'tcp', '--dport', '22', '--source', 'jumphost', '--enable', '1', '--comment', 'cortex:ssh', ...J], {
          exitCode: 255,
          stderr: "400 Parameter verification failed.\nsource: no such alias 'jumphost'\n",
        });
      const r = await runAction('apply_firewall_rules', { vmid: 112, exceptions: [{ source: 'jumphost', destination: 'k8s-worker-02', port: 22, purpose: 'ssh' }] }, fake);
      expect(r.error).toMatchObject({ errorCode: 'firewall_update_failed', retryable: false });
      expect(r.error?.message).toContain("source: no such alias 'jumphost'");
    });
  });

  describe('remove_firewall_rules', () => {
    it('deletes only its tagged rules, highest position first, and restores the options', async () => {
      const fake = new PveFake()
        .on(RES_VM, json([W2]))
        .get(`${BASE}/firewall/rules`, [rule(0, { comment: 'cortex:metrics_collection' }), rule(1, { comment: 'operator' }), rule(2, { comment: 'cortex:forensics_access' }), rule(3, { comment: 'cortex:other' })])
        .on(['delete', `${BASE}/firewall/rules/2`, ...J], json(null))
        .on(['delete', `${BASE}/firewall/rules/0`, ...J], json(null))
        .on(['set', `${BASE}/firewall/options`, '--enable', '0', '--policy_in', 'DROP', '--policy_out', 'ACCEPT', ...J], json(null));
      const r = await runAction('remove_firewall_rules', { vmid: 112, node: 'pve-02', rule_ids: ['forensics_access', 'metrics_collection'], policy_in: 'DROP', policy_out: 'ACCEPT', enable_firewall: false }, fake);
      expect(r.outputs).toEqual({ vmid: 112, node: 'pve-02', removed: 2 });
      expect(r.calls.slice(2)).toEqual([
        ['delete', `${BASE}/firewall/rules/2`, ...J],
        ['delete', `${BASE}/firewall/rules/0`, ...J],
        ['set', `${BASE}/firewall/options`, '--enable', '0', '--policy_in', 'DROP', '--policy_out', 'ACCEPT', ...J],
      ]);
    });
  });
});

describe('sdn-vnet', () => {
  const PARAMS = { zone: 'k8s', vnet: 'k8s10', tag: 10, zone_type: 'vlan', bridge: 'vmbr0', alias: 'prod-k8s-02 nodes', subnet: '10.10.1.0/24', gateway: '10.10.1.1' };
  const ZONE = ['create', '/cluster/sdn/zones', '--zone', 'k8s', '--type', 'vlan', '--bridge', 'vmbr0'];
  const VNET = ['create', '/cluster/sdn/vnets', '--vnet', 'k8s10', '--zone', 'k8s', '--tag', '10', '--alias', 'prod-k8s-02 nodes'];
  const SUBNET = ['create', '/cluster/sdn/vnets/k8s10/subnets', '--subnet', '10.10.1.0/24', '--type', 'subnet', '--gateway', '10.10.1.1'];
  const NODES = [
    { node: 'pve-01', status: 'online' },
    { node: 'pve-02', status: 'online' },
    { node: 'pve-03', status: 'offline' },
  ];
  const ANY_BRIDGE = ['--type', 'any_bridge'];

  it('waits until the VNet bridge is up on every node; fails naming a node whose reload never brought it', async () => {
    const apply = upid('reloadnetworkall', '');
    const slow = [{ iface: 'vmbr0', type: 'bridge' }];
    const fake = new PveFake()
      .get('/cluster/sdn/vnets', [{ vnet: 'k8s10', zone: 'k8s', tag: 10 }])
      .get('/cluster/sdn/vnets/k8s10/subnets', [{ cidr: '10.10.1.0/24' }])
      .task(['set', '/cluster/sdn'], apply)
      .get('/cluster/sdn/zones', [{ zone: 'k8s', type: 'vlan' }])
      .get('/nodes', NODES)
      .on(['get', '/nodes/pve-01/network', ...ANY_BRIDGE, ...J], json(slow), json(slow), json([...slow, { iface: 'k8s10', type: 'vnet' }]))
      .get('/nodes/pve-02/network', slow, ANY_BRIDGE);
    const r = await runAction('create_sdn_vnet', { ...PARAMS, verify_timeout: 5 }, fake);
    expect(r.error).toMatchObject({ errorCode: 'sdn_apply_incomplete', retryable: true });
    expect(r.error?.message).toBe("the SDN apply ended OK, but VNet k8s10 is not on pve-02 after 5s: that node's network reload failed or is still running");
    // pve-01 got it on the third look and was not asked again; pve-03 (offline) was never asked
    expect(r.calls.filter((c) => c[1] === '/nodes/pve-01/network')).toHaveLength(3);
    expect(r.calls.some((c) => c[1] === '/nodes/pve-03/network')).toBe(false);
  });

  describe('create_sdn_vnet', () => {
    it('creates the zone, the VNet and the subnet, then applies (waited)', async () => {
      const apply = upid('reloadnetworkall', '');
      const fake = new PveFake()
        .get('/cluster/sdn/vnets', [])
        .get('/cluster/sdn/zones', [])
        .on([...ZONE, ...J], json(null))
        .on([...VNET, ...J], json(null))
        .on([...SUBNET, ...J], json(null))
        .task(['set', '/cluster/sdn'], apply, { log: ['pve-01: reload network configuration'] })
        .get('/nodes', NODES)
        .get('/nodes/pve-01/network', [{ iface: 'vmbr0', type: 'bridge' }, { iface: 'k8s10', type: 'vnet' }], ANY_BRIDGE)
        .get('/nodes/pve-02/network', [{ iface: 'vmbr0', type: 'bridge' }, { iface: 'k8s10', type: 'vnet' }], ANY_BRIDGE);
      const r = await runAction('create_sdn_vnet', PARAMS, fake);
      expect(r.error).toBeUndefined();
      expect(r.outputs).toEqual({ vnet: 'k8s10', zone: 'k8s', tag: 10, zone_created: true, existed: false, nodes: ['pve-01', 'pve-02'] });
      expect(r.calls).toEqual([
        ['get', '/cluster/sdn/vnets', ...J],
        ['get', '/cluster/sdn/zones', ...J],
        [...ZONE, ...J],
        [...VNET, ...J],
        [...SUBNET, ...J],
        ['set', '/cluster/sdn', ...J],
        ['get', `/nodes/pve-01/tasks/${apply}/status`, ...J],
        ['get', '/nodes', ...J],
        ['get', '/cluster/sdn/zones', ...J],
        ['get', '/nodes/pve-01/network', ...ANY_BRIDGE, ...J],
        ['get', '/nodes/pve-02/network', ...ANY_BRIDGE, ...J],
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
        .task(['set', '/cluster/sdn'], upid('reloadnetworkall', ''))
        .get('/cluster/sdn/zones', [{ zone: 'k8s', type: 'vlan', nodes: 'pve-02' }])
        .get('/nodes', NODES)
        .get('/nodes/pve-02/network', [{ iface: 'k8s10', type: 'vnet' }], ANY_BRIDGE);
      const r = await runAction('create_sdn_vnet', PARAMS, fake);
      expect(r.outputs).toEqual({ vnet: 'k8s10', zone: 'k8s', tag: 10, zone_created: false, existed: true, nodes: ['pve-02'] });
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
});
