/**
 * infrastructure-contractor: Proxmox VE through `pvesh` (TOOLS.md §1 and §5). Every worker call
 * returns a UPID that is waited on (tasks/<upid>/status) before the action succeeds.
 *
 * Addressing: a VM is named by `vmid`, `name`, or `vm` (either form; the incident templates pass a
 * Kubernetes node name, which is also the VM's name). `node` is optional: it is looked up in
 * `pvesh get /cluster/resources --type vm` when absent.
 *
 * Load balancers: Proxmox has none, so a backend pool is modelled as the cluster firewall IPSet
 * `lb-<load_balancer>-<backend_pool>` (characters other than letters, digits, - and _ become -).
 * Each entry is a backend IP; its comment is `cortex:<version>:<port>` (`cortex:<version>:<port>:<weight>` when the
 * weight is not the default 100). The IPSet's own comment
 * holds the health check, `cortex-hc:<path>:<interval>:<timeout>:<rise>:<fall>`. HAProxy/keepalived on
 * the load-balancer VM (the VM named <load_balancer>, or config proxmox.load_balancer_vmid) renders
 * its backends from these IPSets. A Proxmox IPSet holds each IP once, so adding a server that is
 * already present rewrites its comment (new version/port).
 *
 * Firewall rules written by cortex carry the comment `cortex:<rule-id>`, so a re-run replaces
 * exactly its own rules and removal touches nothing else.
 */
import {
  CIDR,
  HOSTNAME,
  arr,
  atLeastOne,
  bool,
  closed,
  int,
  params,
  str,
  strEnum,
  type Schema,
} from '../param-schema.js';
import type { ActionSpec } from '../../model/catalogue.js';

const C = 'infrastructure-contractor';
const PVESH = ['pvesh'];

const SKIP = bool(
  'When true the action does nothing and succeeds. Compensations set it from an output of the forward action ' +
    'when the state it would restore was already in place before (e.g. a VM that was already running).',
  false,
);

const vmid = int('Proxmox VMID.', { minimum: 100, maximum: 999999999 });
const vmName = str('VM name (looked up in /cluster/resources).', { pattern: HOSTNAME });
const vmEither = {
  type: ['string', 'integer'],
  description: 'VM name or VMID, either form (a Kubernetes node name works: Talos VMs are named like their nodes).',
};
const pveNode = str('Proxmox node that holds (or will hold) the VM; looked up via /cluster/resources when absent.', {
  pattern: HOSTNAME,
});

/** vmid / name / vm / node, and "at least one of vmid, name, vm". */
const VM_SELECTOR: Record<string, Schema> = { vmid, name: vmName, vm: vmEither, node: pveNode };
const ANY_VM = atLeastOne('vmid', 'name', 'vm');

const snapshotName = str(
  'Snapshot name. Proxmox requires a letter first, then letters, digits, - and _, at most 40 characters; other ' +
    'characters are replaced by - and the name is cut to 40.',
  { minLength: 1 },
);

/** Everything needed to clone a VM from a template (provision_vm and replacement specs). */
const VM_SPEC_PROPERTIES: Record<string, Schema> = {
  name: str('VM name; also its hostname (and, for Talos, the Kubernetes node name).', { pattern: HOSTNAME }),
  node: str('Proxmox node to create the VM on (default config proxmox.node).', { pattern: HOSTNAME }),
  template_vmid: int('VMID of the template to clone (default config proxmox.template_vmid).', { minimum: 100 }),
  vmid: int('VMID to use; checked free with /cluster/nextid --vmid (default: the next free one).', { minimum: 100 }),
  cores: int('CPU cores.', { minimum: 1, maximum: 512 }),
  sockets: int('CPU sockets (default 1).', { minimum: 1, maximum: 4 }),
  memory_mb: int('Memory in MiB.', { minimum: 16 }),
  disk_gb: int('Grow the boot disk (scsi0) to this many GiB; never shrinks.', { minimum: 1 }),
  storage: str('Target storage for the full clone (default config proxmox.storage).', { minLength: 1 }),
  bridge: str('Bridge or SDN VNet for net0 (default config proxmox.bridge).', { minLength: 1 }),
  vlan: int('VLAN tag on net0 (omit when `bridge` is an SDN VNet).', { minimum: 1, maximum: 4094 }),
  ip: str('Address for cloud-init ipconfig0: CIDR such as 10.10.1.10/24, or "dhcp".', {
    pattern: `^(dhcp|${CIDR.slice(1, -1)})$`,
  }),
  gateway: str('Default gateway for ipconfig0 (default config proxmox.gateway).'),
  nameservers: arr(str('DNS server address.'), 'DNS servers (cloud-init nameserver).'),
  search_domain: str('DNS search domain (cloud-init searchdomain).'),
  tags: arr(str('Tag.', { pattern: '^[a-z0-9_][a-z0-9_+.-]*$' }), 'Proxmox tags; `cortex` is always added.'),
  pool: str('Proxmox resource pool to put the VM in.'),
  description: str('VM description (notes).'),
  full_clone: bool('Full clone (independent disks) rather than a linked clone.', true),
  firewall: bool('Enable the firewall flag on net0 (firewall=1) so VM-level rules apply.', true),
  start: bool('Start the VM after configuring it and wait until it is running.', true),
  onboot: bool('Start the VM when its node boots.', true),
};

const VM_OUTPUTS = {
  vmid: 'VMID of the VM.',
  node: 'Proxmox node it runs on.',
  name: 'VM name.',
  ip: 'IP address without prefix length (from ipconfig0, or the guest agent when DHCP).',
  mac: 'MAC address of net0.',
};

const DESTROY_BY_OUTPUT = {
  action: 'destroy_vm',
  parameters: { vmid: '${output.vmid}', node: '${output.node}', purge: true },
  requires_outputs: ['vmid', 'node'],
};

const checkNodeCapacity: ActionSpec = {
  contractor: C,
  name: 'check_node_capacity',
  summary:
    'Reads `pvesh get /cluster/resources --type node` (and `/nodes/<node>/storage --content images` for `storage`) ' +
    'and checks that free resources cover the request (cores/memory_mb/disk_gb times count): free memory = maxmem-mem, ' +
    'free CPU = maxcpu*(1-cpu), free disk = the storage\'s avail. With `node` it checks ' +
    'that node, then each of `fallback_nodes` in turn, and outputs the first that fits; with `nodes` it sums the ' +
    'capacity of all of them (a site). Insufficient capacity is a decision, reported as a non-retryable failure ' +
    '(or as sufficient=false when fail_if_insufficient is false). Changes nothing.',
  kind: 'tool',
  uses: PVESH,
  parameters: params({
    node: str('Node to check (default config proxmox.node).', { pattern: HOSTNAME }),
    nodes: arr(str('Node name.', { pattern: HOSTNAME }), 'Check the summed capacity of these nodes (e.g. a DR site).', {
      minItems: 1,
    }),
    fallback_nodes: arr(str('Node name.', { pattern: HOSTNAME }), 'Nodes tried in order when `node` lacks capacity.'),
    cores: int('CPU cores per VM (or the total, with count 1).', { minimum: 0 }),
    memory_mb: int('Memory per VM, MiB (or the total, with count 1).', { minimum: 0 }),
    disk_gb: int('Disk per VM on `storage`, GiB (or the total, with count 1).', { minimum: 0 }),
    count: int('Number of VMs of that size; the amounts checked are multiplied by it.', { minimum: 1, default: 1 }),
    storage: str('Storage whose free space is checked (default config proxmox.storage).'),
    fail_if_insufficient: bool('Fail when the request does not fit (otherwise report sufficient=false).', true),
  }),
  outputs: {
    node: 'The node that fits (the first of node + fallback_nodes; with `nodes`, the one with most free memory).',
    sufficient: 'True when the request fits.',
    free_cores: 'Free CPU cores on the chosen node (or summed over `nodes`).',
    free_memory_mb: 'Free memory, MiB.',
    free_disk_gb: 'Free space on `storage`, GiB.',
    checked: 'Nodes examined, in order.',
  },
  idempotent: true,
};

const checkClusterStatus: ActionSpec = {
  contractor: C,
  name: 'check_cluster_status',
  summary:
    'Reads `pvesh get /cluster/status` and fails unless the cluster is quorate (when require_quorum) and every node in ' +
    '`nodes` is online. Changes nothing.',
  kind: 'tool',
  uses: PVESH,
  parameters: params({
    nodes: arr(str('Node name.', { pattern: HOSTNAME }), 'Nodes that must be online.'),
    require_quorum: bool('Fail when the cluster is not quorate.', true),
  }),
  outputs: {
    cluster_name: 'Proxmox cluster name.',
    quorate: 'True when the cluster has quorum.',
    nodes_online: 'Names of online nodes.',
    nodes_offline: 'Names of offline nodes.',
  },
  idempotent: true,
};

const checkStorage: ActionSpec = {
  contractor: C,
  name: 'check_storage',
  summary:
    'Reads `pvesh get /nodes/<node>/storage --content <content>` and fails unless `storage` is active and has at least ' +
    '`min_free_gb` available. Changes nothing.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      node: str('Node to look from (default config proxmox.node).', { pattern: HOSTNAME }),
      storage: str('Storage id, e.g. local-lvm or ceph-rbd.', { minLength: 1 }),
      min_free_gb: int('Minimum available space, GiB.', { minimum: 0 }),
      content: strEnum(['images', 'rootdir', 'backup', 'iso', 'vztmpl', 'snippets'], 'Content type the storage must accept.', {
        default: 'images',
      }),
    },
    ['storage'],
  ),
  outputs: {
    storage: 'Storage id.',
    node: 'Node it was checked from.',
    active: 'True when the storage is active.',
    shared: 'True for shared storage (usable by every node).',
    avail_gb: 'Available GiB.',
    total_gb: 'Total GiB.',
    used_fraction: 'Used fraction, 0..1.',
  },
  idempotent: true,
};

const checkReplication: ActionSpec = {
  contractor: C,
  name: 'check_replication',
  summary:
    'Reads the Proxmox storage-replication jobs of `node` (`pvesh get /nodes/<node>/replication`) and fails when any ' +
    'job (optionally only those of `guests`) has errors or its lag (now - last_sync) exceeds max_lag_seconds, or, without ' +
    'it, the job\'s own schedule interval plus 60 s: the RPO check before a failover. The error names each lagging job ' +
    'and its schedule. Changes nothing.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      node: str('Node whose replication is checked: jobs replicating to it (the DR target side) and jobs of guests running on it.', { pattern: HOSTNAME }),
      guests: arr(int('VMID.', { minimum: 100 }), 'Only consider jobs of these guests.'),
      max_lag_seconds: {
        type: ['integer', 'null'],
        minimum: 1,
        description: 'Largest acceptable lag (the RPO) for every job. Absent or null: each job may lag its own schedule\'s interval plus 60 s (Proxmox\'s default schedule */15: 960 s).',
      },
      require_jobs: bool('Fail when no replication job matches.', true),
    },
    ['node'],
  ),
  outputs: {
    max_lag_seconds: 'Largest lag found, seconds.',
    jobs: 'Number of jobs examined.',
    failing: 'Ids of jobs with errors or too much lag.',
    lag_by_job: 'Lag in seconds per job id.',
    allowed_lag_by_job: 'Lag allowed per job id (max_lag_seconds, or the schedule interval plus 60 s).',
  },
  idempotent: true,
};

const provisionVm: ActionSpec = {
  contractor: C,
  name: 'provision_vm',
  summary:
    'Clones a VM from a template and brings it up: /cluster/nextid, `create /nodes/<node>/qemu/<template>/clone --newid ' +
    '--name --full 1 --storage` (waited), `set .../config` (cores, memory, net0 virtio,bridge[,tag],firewall=1, ipconfig0, ' +
    'nameserver, tags), optional disk resize, `status/start` (waited), then checks status/current is running. If a VM ' +
    'with this name and the `cortex` tag already exists (an earlier attempt), it is reused and started if stopped, so ' +
    're-running is harmless. A failure after the clone destroys the partial VM. Use a retry policy with ' +
    'fallback_parameters {node, storage} for "retry on a fallback host".',
  kind: 'tool',
  uses: PVESH,
  parameters: params(VM_SPEC_PROPERTIES, ['name']),
  outputs: VM_OUTPUTS,
  idempotent: true,
  compensation: DESTROY_BY_OUTPUT,
};

const destroyVm: ActionSpec = {
  contractor: C,
  name: 'destroy_vm',
  summary:
    'Stops the VM (ACPI shutdown with shutdown_timeout_seconds, then forced; skipped when already stopped) and deletes it ' +
    'with `--purge 1 --destroy-unreferenced-disks 1`, waiting on both tasks; succeeds when the VMID is gone from ' +
    '/cluster/resources. A VM that does not exist counts as destroyed (missing_ok); templates are refused. Irreversible.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      ...VM_SELECTOR,
      purge: bool('Also remove the VM from backup jobs, replication and HA.', true),
      shutdown_timeout_seconds: int('ACPI shutdown grace before a hard stop (0 = hard stop at once).', {
        minimum: 0,
        maximum: 3600,
        default: 60,
      }),
      missing_ok: bool('Succeed when the VM does not exist.', true),
    },
    [],
    { anyOf: ANY_VM },
  ),
  outputs: { vmid: 'VMID.', node: 'Node it was on.', destroyed: 'False when it did not exist.' },
  idempotent: true,
};

const startVm: ActionSpec = {
  contractor: C,
  name: 'start_vm',
  summary:
    '`pvesh create /nodes/<node>/qemu/<vmid>/status/start` (waited) and checks status/current is running. A running VM ' +
    'is left alone (was_running=true), and then rollback does not stop it.',
  kind: 'tool',
  uses: PVESH,
  parameters: params({ ...VM_SELECTOR, skip: SKIP }, [], { anyOf: ANY_VM }),
  outputs: {
    vmid: 'VMID.',
    node: 'Node.',
    status: 'VM status afterwards ("running").',
    was_running: 'True when the VM was already running.',
  },
  idempotent: true,
  compensation: {
    action: 'stop_vm',
    parameters: { vmid: '${output.vmid}', node: '${output.node}', skip: '${output.was_running}' },
    requires_outputs: ['vmid', 'node'],
  },
};

const stopVm: ActionSpec = {
  contractor: C,
  name: 'stop_vm',
  summary:
    'Shuts the VM down: ACPI/agent shutdown (`status/shutdown --timeout --forceStop 1`) when graceful, else ' +
    '`status/stop`; waits on the task. A stopped VM is left alone (was_stopped=true), and then rollback does not start it.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      ...VM_SELECTOR,
      graceful: bool('ACPI shutdown first, hard stop after timeout_seconds.', true),
      timeout_seconds: int('Shutdown grace period.', { minimum: 1, maximum: 3600, default: 120 }),
      skip: SKIP,
    },
    [],
    { anyOf: ANY_VM },
  ),
  outputs: {
    vmid: 'VMID.',
    node: 'Node.',
    status: 'VM status afterwards ("stopped").',
    was_stopped: 'True when the VM was already stopped.',
  },
  idempotent: true,
  compensation: {
    action: 'start_vm',
    parameters: { vmid: '${output.vmid}', node: '${output.node}', skip: '${output.was_stopped}' },
    requires_outputs: ['vmid', 'node'],
  },
};

const createVmSnapshot: ActionSpec = {
  contractor: C,
  name: 'create_vm_snapshot',
  summary:
    '`pvesh create /nodes/<node>/qemu/<vmid>/snapshot --snapname --description [--vmstate 1]` (waited), then checks the ' +
    'snapshot is listed. An existing snapshot of that name is reused. Rollback deletes it; set `compensation: false` ' +
    'on forensic snapshots that must be kept.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      ...VM_SELECTOR,
      snapshot_name: { ...snapshotName, description: `${String(snapshotName.description)} Default: cortex-<execution_id>.` },
      description: str('Snapshot description.'),
      preserve_memory: bool('Include the RAM state (--vmstate 1); the VM then resumes running on rollback.', false),
    },
    [],
    { anyOf: ANY_VM },
  ),
  outputs: {
    snapshot_id: 'Stable identifier <node>/<vmid>@<snapname>.',
    snapname: 'Snapshot name as stored by Proxmox (after sanitising).',
    vmid: 'VMID.',
    node: 'Node.',
  },
  idempotent: true,
  compensation: {
    action: 'delete_vm_snapshot',
    parameters: { vmid: '${output.vmid}', node: '${output.node}', snapshot_name: '${output.snapname}' },
    requires_outputs: ['vmid', 'node', 'snapname'],
  },
};

const deleteVmSnapshot: ActionSpec = {
  contractor: C,
  name: 'delete_vm_snapshot',
  summary: '`pvesh delete /nodes/<node>/qemu/<vmid>/snapshot/<snapname> [--force 1]` (waited). A missing snapshot counts as deleted.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      ...VM_SELECTOR,
      snapshot_name: snapshotName,
      force: bool('Remove the snapshot from the config even if removing disk snapshots fails.', false),
      missing_ok: bool('Succeed when the snapshot does not exist.', true),
    },
    ['snapshot_name'],
    { anyOf: ANY_VM },
  ),
  outputs: { vmid: 'VMID.', node: 'Node.', snapname: 'Snapshot name.', deleted: 'False when it did not exist.' },
  idempotent: true,
};

const rollbackVmSnapshot: ActionSpec = {
  contractor: C,
  name: 'rollback_vm_snapshot',
  summary:
    '`pvesh create /nodes/<node>/qemu/<vmid>/snapshot/<snapname>/rollback [--start 1]` (waited), then checks status/current. ' +
    'Discards every change made since the snapshot; irreversible.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      ...VM_SELECTOR,
      snapshot_name: snapshotName,
      start: bool('Start the VM after the rollback (a snapshot without RAM state leaves it stopped).', true),
    },
    ['snapshot_name'],
    { anyOf: ANY_VM },
  ),
  outputs: { vmid: 'VMID.', node: 'Node.', snapname: 'Snapshot rolled back to.', status: 'VM status afterwards.' },
  idempotent: true,
};

const ruleId = str('Rule id; the rule is tagged with the comment cortex:<id>.', { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' });
const portSpec = {
  description: 'Port, range "8000:8080", or service name.',
  anyOf: [
    { type: 'integer', minimum: 1, maximum: 65535 },
    { type: 'string', pattern: '^[A-Za-z0-9:,-]+$' },
  ],
};
const firewallAddress = str(
  'IP, CIDR, Proxmox firewall alias (e.g. bastion_host, defined under /cluster/firewall/aliases) or +ipset.',
  { minLength: 1 },
);
const firewallTarget = {
  type: ['string', 'integer'],
  description: 'VM to protect: an IP address (matched against ipconfig0 and guest-agent addresses), a VM name or a VMID.',
};

const applyFirewallRules: ActionSpec = {
  contractor: C,
  name: 'apply_firewall_rules',
  summary:
    'VM-level Proxmox firewall. Lists /nodes/<node>/qemu/<vmid>/firewall/rules, deletes stale rules tagged cortex:<id> ' +
    '(highest pos first), adds each missing rule with --comment cortex:<id>, then sets firewall/options --enable 1 and, ' +
    'for policy deny_all, --policy_in DROP --policy_out DROP. First it checks that the rules will be in force (the datacenter firewall ' +
    'on, /cluster/firewall/options; firewall=1 on each NIC of the VM): it fails, or with enforce_firewall turns them on. An exception whose destination is the target becomes an ' +
    '`in` ACCEPT rule from its source; one whose source is the target becomes an `out` ACCEPT rule to its destination ' +
    '(the side naming the target is left out: VM-level rules apply to that VM); its id is its `purpose`. All calls are synchronous; the rules are re-listed to confirm. Re-running is harmless. ' +
    'Rollback removes exactly the rules it added and restores the previous policies.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      target: firewallTarget,
      ...VM_SELECTOR,
      policy: strEnum(['deny_all', 'allow_all', 'keep'], 'deny_all: DROP everything not allowed by a rule, both directions.', {
        default: 'keep',
      }),
      exceptions: arr(
        closed(
          {
            source: firewallAddress,
            destination: firewallAddress,
            port: portSpec,
            protocol: strEnum(['tcp', 'udp', 'icmp', 'sctp'], 'Protocol.'),
            purpose: ruleId,
          },
          ['source', 'destination', 'purpose'],
          'Traffic still allowed under a deny_all policy.',
        ),
        'Allowed connections (the incident template\'s form).',
      ),
      rules: arr(
        closed(
          {
            id: ruleId,
            type: strEnum(['in', 'out'], 'Direction.'),
            action: strEnum(['ACCEPT', 'DROP', 'REJECT'], 'Verdict.'),
            proto: str('Protocol (tcp, udp, icmp, ...).'),
            dport: portSpec,
            sport: portSpec,
            source: firewallAddress,
            dest: firewallAddress,
            macro: str('Proxmox macro, e.g. SSH.'),
            log: strEnum(['nolog', 'info', 'notice', 'warning', 'err', 'crit', 'alert', 'emerg', 'debug'], 'Log level.'),
            enable: bool('Rule enabled.', true),
          },
          ['id', 'type', 'action'],
        ),
        'Explicit rules (the general form).',
      ),
      enable_firewall: bool('Enable the VM firewall (options --enable 1).', true),
      enforce_firewall: bool(
        'VM rules are in force only when the datacenter firewall is on and the NIC has firewall=1. true: turn on what is off (the datacenter switch affects every node). false: fail (firewall_not_enforced) before changing anything.',
        false,
      ),
    },
    [],
    { anyOf: atLeastOne('target', 'vmid', 'name', 'vm') },
  ),
  outputs: {
    datacenter_firewall_enabled: 'True when this action turned the datacenter firewall on.',
    nic_firewall_enabled: 'NICs (net<n>) this action set firewall=1 on.',
    vmid: 'VMID the rules were applied to.',
    node: 'Node.',
    rule_ids: 'Ids of the rules cortex now owns on that VM.',
    rules_added: 'Number of rules created.',
    previous_policy_in: 'policy_in before the change (null when it was unset: the Proxmox default DROP).',
    previous_policy_out: 'policy_out before the change (null when it was unset: the Proxmox default ACCEPT).',
    previous_enable: 'Whether the VM firewall was enabled before.',
  },
  idempotent: true,
  compensation: {
    action: 'remove_firewall_rules',
    parameters: {
      vmid: '${output.vmid}',
      node: '${output.node}',
      rule_ids: '${output.rule_ids}',
      policy_in: '${output.previous_policy_in}',
      policy_out: '${output.previous_policy_out}',
      enable_firewall: '${output.previous_enable}',
      nic_firewall_off: '${output.nic_firewall_enabled}',
      disable_datacenter_firewall: '${output.datacenter_firewall_enabled}',
    },
    requires_outputs: ['vmid', 'node', 'rule_ids'],
  },
};

const removeFirewallRules: ActionSpec = {
  contractor: C,
  name: 'remove_firewall_rules',
  summary:
    'Deletes the VM firewall rules whose comment is cortex:<id> for each id in rule_ids (highest pos first), then ' +
    'optionally restores policy_in/policy_out and the enable flag. Rules without a cortex tag are never touched.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      target: firewallTarget,
      ...VM_SELECTOR,
      rule_ids: arr(ruleId, 'Rule ids to remove.'),
      policy_in: { type: ['string', 'null'], enum: ['ACCEPT', 'DROP', 'REJECT', null], description: 'policy_in to restore; null removes the setting (back to the Proxmox default).' },
      policy_out: { type: ['string', 'null'], enum: ['ACCEPT', 'DROP', 'REJECT', null], description: 'policy_out to restore; null removes the setting (back to the Proxmox default).' },
      enable_firewall: bool('Firewall enable flag to restore.'),
      nic_firewall_off: arr(str('NIC key.', { pattern: '^net[0-9]+$' }), 'NICs to set back to firewall off (those apply_firewall_rules turned on).'),
      disable_datacenter_firewall: bool('Turn the datacenter firewall off again (apply_firewall_rules turned it on).', false),
    },
    ['rule_ids'],
    { anyOf: atLeastOne('target', 'vmid', 'name', 'vm') },
  ),
  outputs: { vmid: 'VMID.', node: 'Node.', removed: 'Number of rules deleted.' },
  idempotent: true,
};

const sdnId = (what: string) =>
  str(`${what} id: a lower-case letter, then letters and digits, at most 8 characters (Proxmox SDN rule).`, {
    pattern: '^[a-z][a-z0-9]{1,7}$',
  });

const createSdnVnet: ActionSpec = {
  contractor: C,
  name: 'create_sdn_vnet',
  summary:
    'Creates the SDN zone when missing (`pvesh create /cluster/sdn/zones --zone --type [--bridge]`), the VNet ' +
    '(`/cluster/sdn/vnets --vnet --zone --tag [--alias]`) and an optional subnet (`/cluster/sdn/vnets/<vnet>/subnets`), ' +
    'then applies the pending SDN configuration (`pvesh set /cluster/sdn`, waited) and waits until the VNet bridge is up on ' +
    'every node the zone covers (`/nodes/<node>/network --type any_bridge`: the apply task only starts each node\'s reload). An existing VNet with the same zone ' +
    'and tag is reused (existed=true) and then rollback leaves it. VMs attach with bridge=<vnet>.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      zone: sdnId('Zone'),
      vnet: sdnId('VNet'),
      tag: int('VLAN tag (vlan zone) or VNI (vxlan zone).', { minimum: 1, maximum: 16777215 }),
      zone_type: strEnum(['vlan', 'qinq', 'vxlan', 'simple'], 'Zone type used if the zone must be created.', { default: 'vlan' }),
      bridge: str('Bridge a vlan/qinq zone rides on (default config proxmox.bridge).'),
      alias: str('Human-readable VNet description.'),
      subnet: str('Subnet to declare, CIDR.', { pattern: CIDR }),
      gateway: str('Gateway of the subnet.'),
      snat: bool('Source-NAT the subnet (simple zones).', false),
      apply: bool('Apply the pending SDN configuration (pvesh set /cluster/sdn).', true),
      nodes: arr(str('Node name.', { pattern: HOSTNAME }), 'Nodes that must have the VNet bridge after the apply (default: every online node the zone covers).', { minItems: 1 }),
      verify_timeout: int('Seconds to wait, after the apply task, for each node to have the VNet bridge (its own network reload).', { minimum: 1, maximum: 3600, default: 60 }),
    },
    ['zone', 'vnet'],
  ),
  outputs: {
    nodes: 'Nodes on which the VNet bridge was seen after the apply (empty when not applied).',
    vnet: 'VNet id (use as bridge).',
    zone: 'Zone id.',
    tag: 'VLAN tag or VNI.',
    zone_created: 'True when the zone was created by this action.',
    existed: 'True when the VNet already existed.',
  },
  idempotent: true,
  compensation: {
    action: 'delete_sdn_vnet',
    parameters: {
      vnet: '${output.vnet}',
      zone: '${output.zone}',
      delete_zone: '${output.zone_created}',
      skip: '${output.existed}',
    },
    requires_outputs: ['vnet'],
  },
};

const deleteSdnVnet: ActionSpec = {
  contractor: C,
  name: 'delete_sdn_vnet',
  summary:
    'Deletes the VNet (its subnets first) and, with delete_zone, the zone when it is empty; then applies the SDN ' +
    'configuration (waited). Fails while a VM still uses the VNet. A missing VNet counts as deleted.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      vnet: sdnId('VNet'),
      zone: sdnId('Zone'),
      delete_zone: bool('Also delete the zone if no VNet remains in it.', false),
      apply: bool('Apply the pending SDN configuration.', true),
      skip: SKIP,
    },
    ['vnet'],
  ),
  outputs: { vnet: 'VNet id.', deleted: 'False when it did not exist.', zone_deleted: 'True when the zone was deleted too.' },
  idempotent: true,
};

/** Stated in every load-balancer summary, since operators read specs one at a time. */
const LB_MODEL =
  'Load-balancer model: Proxmox has no load balancer, so a backend pool is the cluster firewall IPSet ' +
  'lb-<load_balancer>-<backend_pool>; each entry is a backend IP with the comment cortex:<version>:<port> (plus ' +
  ':<weight> when the weight is not 100), the IPSet ' +
  'comment holds the health check, and HAProxy/keepalived on the LB VM renders its backends from it. ';

const lbName = str('Load balancer name (the LB VM\'s name); part of the IPSet name lb-<load_balancer>-<backend_pool>.', {
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$',
});
const backendPool = str('Backend pool (e.g. the application name); sanitised into the IPSet name.', { minLength: 1 });
const server = {
  description: 'Backend: an IP address, or {ip, port, weight}.',
  anyOf: [
    { type: 'string', minLength: 1 },
    closed(
      {
        ip: str('Backend IP.', { minLength: 1 }),
        port: int('Port (default backend_config.port).', { minimum: 1, maximum: 65535 }),
        weight: int('Weight (default backend_config.weight, else 100); 0 drains the backend.', { minimum: 0, maximum: 256 }),
      },
      ['ip'],
    ),
  ],
};
const ipsetEntry = closed(
  { cidr: str('Backend IP/CIDR.', { minLength: 1 }), comment: str('Entry comment, cortex:<version>:<port>.') },
  ['cidr'],
);

const updateLoadBalancer: ActionSpec = {
  contractor: C,
  name: 'update_load_balancer',
  summary:
    LB_MODEL +
    'The IPSet is created when missing (`pvesh create /cluster/firewall/ipset --name`). add_backend adds `servers` (an IP already present gets its comment ' +
    'rewritten); replace_backends makes the pool exactly `servers`; remove_backend deletes the entries of `version` ' +
    '(or of `servers`). The previous entries are recorded so rollback restores the pool exactly.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      load_balancer: lbName,
      backend_pool: backendPool,
      action: strEnum(['add_backend', 'replace_backends', 'remove_backend'], 'What to do with the servers.', {
        default: 'add_backend',
      }),
      backend_config: closed(
        {
          version: str('Version label stored in each entry comment (e.g. the image tag).', { minLength: 1 }),
          servers: arr(server, 'Backends.'),
          port: int('Backend port (e.g. a NodePort).', { minimum: 1, maximum: 65535 }),
          weight: int('Weight of servers given as plain IPs (default 100).', { minimum: 0, maximum: 256 }),
          health_check: closed(
            {
              path: str('HTTP path probed on each backend.', { pattern: '^/' }),
              interval: int('Seconds between probes.', { minimum: 1, maximum: 3600 }),
              timeout: int('Probe timeout, seconds.', { minimum: 1, maximum: 3600 }),
              rise: int('Successes before a backend is up (default 2).', { minimum: 1, maximum: 100 }),
              fall: int('Failures before a backend is down (default 3).', { minimum: 1, maximum: 100 }),
            },
            [],
            'Health check stored on the IPSet.',
          ),
        },
        [],
        'Backends and how to check them.',
      ),
    },
    ['load_balancer', 'backend_pool'],
  ),
  outputs: {
    ipset: 'IPSet name.',
    entries: 'Number of entries afterwards.',
    added: 'Entries added or rewritten ({cidr, comment}).',
    removed: 'Entries removed ({cidr, comment}).',
    previous_entries: 'The pool before the change ({cidr, comment}), for rollback.',
    version: 'Version written.',
  },
  idempotent: true,
  compensation: {
    action: 'rollback_load_balancer',
    parameters: {
      load_balancer: '${input.load_balancer}',
      backend_pool: '${input.backend_pool}',
      action: 'restore',
      entries: '${output.previous_entries}',
    },
    requires_outputs: ['previous_entries'],
  },
};

const verifyLoadBalancerHealth: ActionSpec = {
  contractor: C,
  name: 'verify_load_balancer_health',
  summary:
    LB_MODEL +
    'Reads the pool IPSet (pvesh) and probes each backend at http://<ip>:<port><path> using the pool\'s health check ' +
    '(or health_path): from the LB VM itself through the QEMU guest agent (`agent/exec` of a curl script, then ' +
    '`agent/exec-status`), where HAProxy checks from; directly over HTTP from cortex when the LB VM or its agent is not ' +
    'available. Fails (retryable) when fewer than expected_healthy_backends answer 2xx/3xx. `endpoint` is the URL ' +
    'clients use: <scheme>://<LB VM address>:<listen_port>. Changes nothing.',
  kind: 'tool',
  uses: [...PVESH, 'http'],
  parameters: params(
    {
      load_balancer: lbName,
      backend_pool: backendPool,
      expected_healthy_backends: int('Minimum number of healthy backends.', { minimum: 0, default: 1 }),
      version: str('Only count entries of this version.'),
      health_path: str('Probe path when the pool has no stored health check (default /health).', { pattern: '^/' }),
      listen_port: int('Port clients use on the LB (default 80, or 443 for https).', { minimum: 1, maximum: 65535 }),
      scheme: strEnum(['http', 'https'], 'Scheme of `endpoint`.', { default: 'http' }),
    },
    ['load_balancer', 'backend_pool'],
  ),
  outputs: {
    status: '"healthy" (all backends up), "degraded" (enough but not all) or "down".',
    healthy_count: 'Backends that answered.',
    total_count: 'Backends in the pool (after the version filter).',
    endpoint: 'Client URL of the pool on the load balancer.',
    backends: 'Per backend: {ip, port, version, healthy}.',
  },
  idempotent: true,
};

const rollbackLoadBalancer: ActionSpec = {
  contractor: C,
  name: 'rollback_load_balancer',
  summary:
    LB_MODEL +
    'Undoes a pool change. remove_backend deletes the entries of `version` (or of `servers`); restore makes the IPSet ' +
    'exactly `entries` (update_load_balancer\'s previous_entries; an empty list deletes the IPSet).',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      load_balancer: lbName,
      backend_pool: backendPool,
      action: strEnum(['remove_backend', 'restore'], 'How to roll back.', { default: 'remove_backend' }),
      version: str('Version whose entries are removed.'),
      servers: arr(str('Backend IP.'), 'Backends to remove.'),
      entries: arr(ipsetEntry, 'The complete pool to restore.'),
    },
    ['load_balancer', 'backend_pool'],
  ),
  outputs: { ipset: 'IPSet name.', removed: 'Entries removed.', restored: 'Entries written back.', entries: 'Entries afterwards.' },
  idempotent: true,
};

const startPacketCapture: ActionSpec = {
  contractor: C,
  name: 'start_packet_capture',
  summary:
    'Finds the VM and its node with pvesh and asks the forensics service (config endpoints.forensics) to run tcpdump on ' +
    'that node\'s tap<vmid>i<n> interface for `duration` seconds, writing to `output`. A capture already running for the ' +
    'same VM and output is reused. Rollback stops it.',
  kind: 'tool',
  uses: [...PVESH, 'forensics'],
  parameters: params(
    {
      target: firewallTarget,
      ...VM_SELECTOR,
      duration: int('Capture length, seconds.', { minimum: 1, maximum: 86400, default: 3600 }),
      output: str('Where the pcap goes: s3://..., https://... or a path on the forensics host.', { minLength: 1 }),
      filter: str('BPF filter, e.g. "not port 22".'),
      interface_index: int('NIC index n of tap<vmid>i<n> (default 0 = net0).', { minimum: 0, maximum: 31 }),
      max_size_mb: int('Stop when the file reaches this size.', { minimum: 1 }),
    },
    [],
    { anyOf: atLeastOne('target', 'vmid', 'name', 'vm') },
  ),
  outputs: {
    active: 'True while the capture runs.',
    location: 'Where the pcap is written.',
    capture_id: 'Capture id at the forensics service.',
    vmid: 'VMID captured.',
    node: 'Node it runs on.',
    interface: 'Interface name, e.g. tap121i0.',
    ends_at: 'When the capture stops by itself (ISO 8601).',
  },
  idempotent: true,
  compensation: { action: 'stop_packet_capture', parameters: { capture_id: '${output.capture_id}' }, requires_outputs: ['capture_id'] },
};

const stopPacketCapture: ActionSpec = {
  contractor: C,
  name: 'stop_packet_capture',
  summary: 'Stops a capture started by start_packet_capture (forensics service); the file written so far is kept. A finished capture counts as stopped.',
  kind: 'http',
  uses: ['forensics'],
  parameters: params({ capture_id: str('Capture id.', { minLength: 1 }) }, ['capture_id']),
  outputs: { capture_id: 'Capture id.', location: 'Where the pcap is.', stopped: 'True when it was running.', bytes: 'Size of the pcap.' },
  idempotent: true,
};

const destroyCompromisedResource: ActionSpec = {
  contractor: C,
  name: 'destroy_compromised_resource',
  summary:
    'Takes a compromised VM out of service. With preserve_forensic_copy and a VM that has snapshots (the forensic memory ' +
    'snapshot: a clone copies no snapshot, a destroy frees them), the VM itself is kept as the evidence until it is copied: ' +
    'hard-stopped, every NIC link_down=1, onboot 0, renamed <name>-forensic-<date> and tagged cortex, forensic ' +
    '(kept_for_evidence); run again with evidence_copied once the snapshots are exported. Otherwise it first makes a stopped full clone named ' +
    '<name>-forensic-<date> (tags cortex, forensic; never started) on forensic_storage, waited; then hard-stops (a ' +
    'compromised guest is not trusted to shut down) and destroys the original with --purge. A VM that is already gone ' +
    'counts as destroyed. Irreversible by design.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      resource: {
        type: ['string', 'integer'],
        description: 'The VM: name (e.g. the Kubernetes node name), VMID or IP address.',
      },
      node: pveNode,
      preserve_forensic_copy: bool('Keep a stopped full clone for forensics.', true),
      forensic_storage: str('Storage for the forensic clone (default the VM\'s own).'),
      evidence_copied: bool('The VM\'s snapshots have been exported: destroy it (with a clone as the forensic copy) even though it has snapshots.', false),
    },
    ['resource'],
  ),
  outputs: {
    vmid: 'VMID destroyed (or kept).',
    node: 'Node it was on.',
    name: 'Its name.',
    destroyed: 'False when it did not exist, or was kept for its snapshots.',
    kept_for_evidence: 'True when the VM itself was kept (stopped, unplugged, renamed) because its snapshots hold evidence.',
    evidence_snapshots: 'Names of the snapshots kept as evidence.',
    forensic_copy_vmid: 'VMID of the forensic clone, or null.',
    forensic_copy_name: 'Name of the forensic clone, or null.',
  },
  idempotent: true,
};

const provisionReplacementResource: ActionSpec = {
  contractor: C,
  name: 'provision_replacement_resource',
  summary:
    'provision_vm for a replacement of a destroyed resource. With hardened, it clones from hardened_template_vmid (else ' +
    'specs.template_vmid, else the template VM tagged `hardened`, else config proxmox.template_vmid), enables the VM ' +
    'firewall with policy_in DROP before the first start (rules are added separately), and tags it `hardened`; a VM of ' +
    'the same name is only reused when it is tagged cortex and hardened. Rollback destroys it.',
  kind: 'tool',
  uses: PVESH,
  parameters: params(
    {
      specs: closed(VM_SPEC_PROPERTIES, ['name'], 'The VM to create (same fields as provision_vm).'),
      hardened: bool('Use the hardened template and a default-deny inbound firewall.', true),
      hardened_template_vmid: int('Template for hardened VMs.', { minimum: 100 }),
    },
    ['specs'],
  ),
  outputs: { ...VM_OUTPUTS, hardened: 'True when the hardened path was used.' },
  idempotent: true,
  compensation: DESTROY_BY_OUTPUT,
};

export const INFRASTRUCTURE_SPECS: readonly ActionSpec[] = [
  checkNodeCapacity,
  checkClusterStatus,
  checkStorage,
  checkReplication,
  provisionVm,
  destroyVm,
  startVm,
  stopVm,
  createVmSnapshot,
  deleteVmSnapshot,
  rollbackVmSnapshot,
  applyFirewallRules,
  removeFirewallRules,
  createSdnVnet,
  deleteSdnVnet,
  updateLoadBalancer,
  verifyLoadBalancerHealth,
  rollbackLoadBalancer,
  startPacketCapture,
  stopPacketCapture,
  destroyCompromisedResource,
  provisionReplacementResource,
];
