/**
 * talos-contractor: Talos Linux clusters, Kubernetes objects and Helm releases through
 * `talosctl`, `kubectl` and `helm` (TOOLS.md §2-§5).
 *
 * Every action that targets a cluster takes `cluster`, a name looked up in config
 * `clusters.<name>` (else `clusters.default`) for kubeconfig, context, talosconfig, endpoint and
 * node lists. For a cluster built by generate_talos_config/get_kubeconfig and not (yet) in the
 * config, the files those actions wrote under <base>/clusters/<cluster>/ are used (<base>: the
 * directory of the configured talosconfig, clusters.<name> else clusters.default; the coordination
 * root when none is configured). Those files hold the cluster PKI: only their paths reach outputs.
 * talosctl always gets --talosconfig, kubectl and helm always get --kubeconfig. Manifests are fed
 * to `kubectl apply --server-side --field-manager=cortex -f -` on stdin (no temporary shell files).
 */
import {
  DNS_LABEL,
  DNS_SUBDOMAIN,
  HOST_OR_IP,
  HOST_OR_IP_PORT,
  LABEL_KEY,
  LABEL_VALUE,
  NOT_AN_OPTION,
  arr,
  atLeastOne,
  bool,
  closed,
  int,
  map,
  num,
  openObject,
  params,
  str,
  strEnum,
  type Schema,
} from '../param-schema.js';
import type { ActionSpec } from '../../model/catalogue.js';

const C = 'talos-contractor';
const TALOSCTL = ['talosctl'];
const KUBECTL = ['kubectl'];
const HELM = ['helm', 'kubectl'];

const SKIP = bool(
  'When true the action does nothing and succeeds. Compensations set it from an output of the forward action ' +
    'when the state it would restore was already in place before (e.g. a node that was already cordoned).',
  false,
);

const cluster = str(
  'Cluster name; kubeconfig/talosconfig come from config clusters.<name>, else the files generated under ' +
    '<base>/clusters/<name>/, else clusters.default.',
  { pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$' },
);
const namespace = str('Kubernetes namespace.', { pattern: DNS_LABEL, maxLength: 63 });
const k8sName = (what: string) => str(`${what} name.`, { pattern: DNS_SUBDOMAIN, maxLength: 253 });
const nodeName = str('Kubernetes node name.', { pattern: DNS_SUBDOMAIN, maxLength: 253 });
/** Exactly one node: talosctl -n takes a comma-separated list, and one parameter must never name several nodes. */
const oneNode = (description: string) => str(`${description} One IP address or DNS name.`, { pattern: HOST_OR_IP, maxLength: 253 });
const talosNode = oneNode('Talos node address for -n.');
const talosNodes = (description: string) => arr(talosNode, description, { minItems: 1 });
const endpoint = str('talosctl -e endpoint (default: the node itself, or config clusters.<name>.endpoint): one address or DNS name, with an optional :port.', {
  pattern: HOST_OR_IP_PORT,
  maxLength: 260,
});
/** Kubernetes labels: keys and values in Kubernetes' own syntax (they become `key=value` arguments of kubectl label). */
const labelMap = (description: string): Schema => ({
  type: 'object',
  description,
  propertyNames: { pattern: LABEL_KEY, maxLength: 317 },
  additionalProperties: { type: 'string', pattern: LABEL_VALUE, maxLength: 63 },
});
const labels = labelMap('Labels, key -> value.');
/** A file path talosctl gets as a positional argument. */
const positionalPath = (description: string) => str(`${description} Must not start with "-".`, { minLength: 1, pattern: NOT_AN_OPTION });
const selector = str('Label selector, e.g. app=web-api or tier in (web,api).', { minLength: 1 });
const revision = {
  description: '"previous", or a revision number (0: there was no previous revision; see the summary).',
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', enum: ['previous'] },
  ],
};
const timeoutSeconds = (def: number) => int('Time limit, seconds.', { minimum: 1, maximum: 86400, default: def });

const generateTalosConfig: ActionSpec = {
  contractor: C,
  name: 'generate_talos_config',
  summary:
    'Generates the machine configs: `talosctl gen secrets` once (secrets.yaml is kept and reused, so regenerating yields ' +
    'the same PKI), then `talosctl gen config <cluster> <endpoint> --with-secrets <secrets> -o <dir> --force ' +
    '--with-docs=false --with-examples=false` with the versions, install disk/image, SANs and patches (each patch is ' +
    'written to a file and passed as --config-patch[-control-plane|-worker] @file). Writes controlplane.yaml, ' +
    'worker.yaml and talosconfig under output_dir (default <base>/clusters/<cluster>/, mode 0700: it holds the PKI).',
  kind: 'tool',
  uses: TALOSCTL,
  parameters: params(
    {
      cluster,
      endpoint: str('Control-plane endpoint: https://<vip-or-host>:6443 (a bare host gets https:// and :6443).', { minLength: 1, pattern: NOT_AN_OPTION }),
      output_dir: str('Directory for the generated files.', { minLength: 1 }),
      talos_version: str('Talos version the configs target, e.g. v1.6.1 (--talos-version).', { pattern: '^v?[0-9]+\\.[0-9]+' }),
      kubernetes_version: str('Kubernetes version, e.g. v1.29.1.', { pattern: '^v?[0-9]+\\.[0-9]+\\.[0-9]+' }),
      install_disk: str('Install disk, e.g. /dev/sda.', { pattern: '^/dev/' }),
      install_image: str('Installer image, e.g. ghcr.io/siderolabs/installer:v1.6.1.', { minLength: 1 }),
      additional_sans: arr(str('SAN: one address or DNS name.', { pattern: HOST_OR_IP, maxLength: 253 }), 'Extra certificate SANs (e.g. the API VIP).'),
      config_patches: arr(openObject('Strategic-merge patch (machine config fragment).'), 'Patches for every machine.'),
      control_plane_patches: arr(openObject('Strategic-merge patch.'), 'Patches for control-plane machines.'),
      worker_patches: arr(openObject('Strategic-merge patch.'), 'Patches for workers.'),
    },
    ['cluster', 'endpoint'],
  ),
  outputs: {
    config_dir: 'Directory holding the files.',
    controlplane_config: 'Path of controlplane.yaml.',
    worker_config: 'Path of worker.yaml.',
    talosconfig: 'Path of the talosconfig.',
    secrets: 'Path of secrets.yaml.',
  },
  idempotent: true,
};

const applyTalosConfig: ActionSpec = {
  contractor: C,
  name: 'apply_talos_config',
  summary:
    'For each node: `talosctl apply-config -n <node> --file <config> --mode <mode>`; with insecure, the first apply to a ' +
    'machine in maintenance mode (`--insecure`, no talosconfig). If an insecure apply finds the node already out of ' +
    'maintenance mode (an earlier attempt), it re-applies through the authenticated API instead, so re-running is ' +
    'harmless. The config is `config_file`, or the controlplane.yaml/worker.yaml for machine_type beside the cluster\'s ' +
    'talosconfig. Not undoable (use remove_nodes, or rebuild).',
  kind: 'tool',
  uses: TALOSCTL,
  parameters: params(
    {
      cluster,
      nodes: talosNodes('Nodes to configure.'),
      config_file: str('Full machine config file (not a patch).', { minLength: 1 }),
      machine_type: strEnum(['controlplane', 'worker'], 'Which generated config to use when config_file is absent.'),
      insecure: bool('First apply to nodes in maintenance mode.', false),
      mode: strEnum(['auto', 'no-reboot', 'staged', 'try'], 'apply-config --mode.', { default: 'auto' }),
      endpoint,
      config_patches: arr(openObject('Strategic-merge patch.'), 'Extra patches (--config-patch).'),
    },
    ['cluster', 'nodes'],
    { anyOf: atLeastOne('config_file', 'machine_type') },
  ),
  outputs: { nodes: 'Nodes configured.', mode: 'Apply mode used.' },
  idempotent: true,
};

const bootstrapTalosCluster: ActionSpec = {
  contractor: C,
  name: 'bootstrap_talos_cluster',
  summary:
    '`talosctl bootstrap -n <node> -e <endpoint>` once, on one control-plane node. "AlreadyExists ... etcd data directory ' +
    'is not empty" counts as success (already_bootstrapped=true), so it is idempotent; FailedPrecondition/Unavailable ' +
    '(too early) is reported as retryable. recover_from restores etcd from a snapshot (--recover-from).',
  kind: 'tool',
  uses: TALOSCTL,
  parameters: params(
    {
      cluster,
      node: talosNode,
      endpoint,
      recover_from: str('etcd snapshot to recover from (--recover-from).', { minLength: 1 }),
    },
    ['cluster', 'node'],
  ),
  outputs: {
    node: 'Node bootstrapped.',
    bootstrapped: 'True when this call bootstrapped etcd.',
    already_bootstrapped: 'True when etcd was already bootstrapped.',
  },
  idempotent: true,
};

const talosHealth: ActionSpec = {
  contractor: C,
  name: 'talos_health',
  summary:
    '`talosctl health -n <node> -e <endpoint> --wait-timeout <s>s --control-plane-nodes ... --worker-nodes ...` (node lists ' +
    'default to config clusters.<name>). Exit 0 means healthy; the "waiting for ...: OK" lines are kept as evidence. The ' +
    'process deadline is wait_timeout_seconds + 30.',
  kind: 'tool',
  uses: TALOSCTL,
  parameters: params(
    {
      cluster,
      node: oneNode('Node the check runs on (default: the first of control_plane_nodes, else config clusters.<name>.control_plane_nodes, else clusters.<name>.endpoint; -n is always passed, never left to the talosconfig context).'),
      endpoint,
      control_plane_nodes: arr(talosNode, 'Control-plane node addresses.'),
      worker_nodes: arr(talosNode, 'Worker node addresses.'),
      k8s_endpoint: str('Kubernetes API endpoint to check (--k8s-endpoint).'),
      wait_timeout_seconds: timeoutSeconds(600),
    },
    ['cluster'],
  ),
  outputs: {
    healthy: 'True when every check passed.',
    checks: 'The check lines talosctl printed.',
    duration_seconds: 'How long it took.',
  },
  idempotent: true,
};

const getKubeconfig: ActionSpec = {
  contractor: C,
  name: 'get_kubeconfig',
  summary:
    '`talosctl kubeconfig --merge=false <path> -n <node> -e <endpoint> --force`, then `kubectl --kubeconfig <path> get ' +
    'nodes -o json` to validate. Outputs the path only; the file is mode 0600 and never copied into records.',
  kind: 'tool',
  uses: [...TALOSCTL, ...KUBECTL],
  parameters: params(
    {
      cluster,
      node: oneNode('Control-plane node (default: config clusters.<name>.control_plane_nodes[0], else clusters.<name>.endpoint; -n is always passed, never left to the talosconfig context).'),
      endpoint,
      path: positionalPath('Where to write it (default <base>/clusters/<cluster>/kubeconfig).'),
      validate: bool('Check it with kubectl get nodes.', true),
    },
    ['cluster'],
  ),
  outputs: { path: 'Kubeconfig path.', context: 'Context name in it.', nodes: 'Number of nodes kubectl listed.' },
  idempotent: true,
};

const etcdSnapshot: ActionSpec = {
  contractor: C,
  name: 'etcd_snapshot',
  summary:
    '`talosctl etcd snapshot <path> -n <cp> -e <cp>`; parses `etcd snapshot saved to "<path>" (<n> bytes)` and the ' +
    '`snapshot info: hash <h>, revision <r>, ...` line. A new snapshot each run (harmless).',
  kind: 'tool',
  uses: TALOSCTL,
  parameters: params(
    {
      cluster,
      node: oneNode('One control-plane node (default: config clusters.<name>.control_plane_nodes[0], else clusters.<name>.endpoint; -n is always passed, never left to the talosconfig context).'),
      endpoint,
      path: positionalPath('Snapshot file (default <base>/backups/<cluster>/etcd-<timestamp>.db).'),
    },
    ['cluster'],
  ),
  outputs: { path: 'Snapshot file.', bytes: 'Its size.', revision: 'etcd revision.', hash: 'Snapshot hash.' },
  idempotent: true,
};

const upgradeTalosNode: ActionSpec = {
  contractor: C,
  name: 'upgrade_talos_node',
  summary:
    'Reads the running version (`talosctl version -n <node>`), then `talosctl upgrade -n <node> --image <image> --wait ' +
    '--timeout <s>s [--stage] [--preserve] [--reboot-mode]` and re-reads the version. One node per action. Rollback runs ' +
    '`talosctl rollback` (boots the previous installation) unless the version did not change.',
  kind: 'tool',
  uses: TALOSCTL,
  parameters: params(
    {
      cluster,
      node: talosNode,
      image: str('Installer image, e.g. ghcr.io/siderolabs/installer:v1.6.2.', { minLength: 1 }),
      endpoint,
      stage: bool('Stage the upgrade for the next reboot (--stage).', false),
      preserve: bool('Keep ephemeral data (--preserve).', false),
      reboot_mode: strEnum(['default', 'powercycle'], '--reboot-mode.', { default: 'default' }),
      timeout_seconds: timeoutSeconds(1800),
    },
    ['cluster', 'node', 'image'],
  ),
  outputs: {
    node: 'Node upgraded.',
    previous_version: 'Talos version before.',
    version: 'Talos version after.',
    unchanged: 'True when the version did not change (nothing to roll back).',
  },
  idempotent: true,
  compensation: {
    action: 'rollback_talos_node',
    parameters: { cluster: '${input.cluster}', node: '${output.node}', skip: '${output.unchanged}' },
    requires_outputs: ['node'],
  },
};

const rollbackTalosNode: ActionSpec = {
  contractor: C,
  name: 'rollback_talos_node',
  summary:
    '`talosctl rollback -n <node>`: reboots into the previous Talos installation, then waits for the node to answer ' +
    'again. Running it twice flips back, so it is not idempotent.',
  kind: 'tool',
  uses: TALOSCTL,
  parameters: params({ cluster, node: talosNode, endpoint, skip: SKIP, timeout_seconds: timeoutSeconds(900) }, ['cluster', 'node']),
  outputs: { node: 'Node.', version: 'Talos version after the rollback.' },
  idempotent: false,
};

const joinNodes: ActionSpec = {
  contractor: C,
  name: 'join_nodes',
  summary:
    'Adds fresh machines to an existing cluster: `talosctl apply-config --insecure -n <ip> --file <worker|controlplane ' +
    'config>` for each (a node already out of maintenance mode is checked for membership instead), waits until each ' +
    'Kubernetes Node with that InternalIP is Ready (`kubectl get nodes -o json`), then applies labels (`kubectl label ' +
    'node --overwrite`) and taints. Rollback removes the nodes again (remove_nodes).',
  kind: 'tool',
  uses: [...TALOSCTL, ...KUBECTL],
  parameters: params(
    {
      cluster,
      nodes: talosNodes('Addresses of the new machines (in maintenance mode).'),
      machine_type: strEnum(['worker', 'controlplane'], 'Role of the new machines.', { default: 'worker' }),
      config_file: str('Machine config (default the cluster\'s generated one for machine_type).', { minLength: 1 }),
      labels,
      taints: arr(
        str('Taint key=value:Effect (the key in label-key syntax).', {
          pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(=[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?:(NoSchedule|PreferNoSchedule|NoExecute)$',
        }),
        'Taints to set.',
      ),
      ready_timeout_seconds: timeoutSeconds(600),
    },
    ['cluster', 'nodes'],
  ),
  outputs: { nodes: 'Kubernetes node names of the joined machines.', ips: 'Their addresses.', ready: 'How many are Ready.' },
  idempotent: true,
  compensation: {
    action: 'remove_nodes',
    parameters: { cluster: '${input.cluster}', nodes: '${output.nodes}', ips: '${output.ips}' },
    requires_outputs: ['nodes'],
  },
};

const removeNodes: ActionSpec = {
  contractor: C,
  name: 'remove_nodes',
  summary:
    'Takes nodes out of a cluster: `kubectl drain --ignore-daemonsets --delete-emptydir-data --force`, `kubectl delete ' +
    'node`, then `talosctl reset -n <ip> --graceful --reboot=false` (a control-plane node leaves etcd). Nodes already gone ' +
    'count as removed.',
  kind: 'tool',
  uses: [...KUBECTL, ...TALOSCTL],
  parameters: params(
    {
      cluster,
      nodes: arr(nodeName, 'Kubernetes node names.', { minItems: 1 }),
      ips: arr(talosNode, 'Their Talos addresses (needed for reset).'),
      drain: bool('Drain before deleting.', true),
      reset: bool('Reset the machines with talosctl.', true),
      timeout_seconds: timeoutSeconds(600),
    },
    ['cluster', 'nodes'],
  ),
  outputs: { removed: 'Node names removed.' },
  idempotent: true,
};

const createNamespace: ActionSpec = {
  contractor: C,
  name: 'create_namespace',
  summary:
    'Applies a Namespace manifest with labels/annotations (`kubectl apply --server-side -f -`), which creates or updates ' +
    'it. No compensation: a namespace may hold data a rollback must keep (e.g. PVCs preserved when a release is ' +
    'uninstalled).',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      labels,
      annotations: map({ type: 'string' }, 'Annotations.'),
    },
    ['cluster', 'namespace'],
  ),
  outputs: { namespace: 'Namespace.', created: 'True when it did not exist before.' },
  idempotent: true,
};

const verifyNamespaceExists: ActionSpec = {
  contractor: C,
  name: 'verify_namespace_exists',
  summary:
    '`kubectl get namespace <ns> --ignore-not-found -o name`; when missing, fails unless create_if_missing (then creates ' +
    'it like create_namespace).',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      create_if_missing: bool('Create the namespace when it does not exist.', false),
      labels: labelMap('Labels for a namespace created here.'),
    },
    ['cluster', 'namespace'],
  ),
  outputs: { namespace: 'Namespace.', exists: 'True when it existed.', created: 'True when it was created here.' },
  idempotent: true,
};

const verifySecrets: ActionSpec = {
  contractor: C,
  name: 'verify_secrets',
  summary:
    'Checks that every Secret in required_secrets exists in the namespace (`kubectl get secrets -o name`) and, for ' +
    'required_keys, that it has those data keys (key names only: values are never read). Fails listing what is missing.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      required_secrets: arr(k8sName('Secret'), 'Secrets that must exist.'),
      required_keys: map({ type: 'array', items: { type: 'string' } }, 'Secret name -> data keys it must have.'),
    },
    ['cluster', 'namespace', 'required_secrets'],
  ),
  outputs: { present: 'Secrets found.', missing: 'Secrets (or secret/key) missing.' },
  idempotent: true,
};

const applyKubernetesManifest: ActionSpec = {
  contractor: C,
  name: 'apply_kubernetes_manifest',
  summary:
    'Server-side apply: `kubectl apply --server-side --field-manager=cortex -n <ns> -o name -f -` with the manifest ' +
    '(object or list) as YAML on stdin. Before applying it records the revision of the first Deployment in the manifest ' +
    '(0 when it does not exist). Compensation choice: rollback_kubernetes_deployment to exactly that revision ' +
    '(`rollout undo --to-revision`, which is a no-op when the template did not change) or, when it was 0, deletes the ' +
    'Deployment the apply created. Other objects in the manifest stay; manifests without a Deployment are reported as ' +
    'not undoable.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      manifest: {
        description: 'Kubernetes object, or list of objects, to apply.',
        anyOf: [
          { type: 'object' },
          { type: 'array', items: { type: 'object' }, minItems: 1 },
        ],
      },
      manifest_file: str('YAML file to apply instead of `manifest`.', { minLength: 1 }),
      force_conflicts: bool('Take over fields owned by another field manager (--force-conflicts).', false),
    },
    ['cluster', 'namespace'],
    { anyOf: atLeastOne('manifest', 'manifest_file') },
  ),
  outputs: {
    objects: 'Applied objects as kind.group/name.',
    deployment: 'Name of the first Deployment in the manifest, or null.',
    previous_revision: 'That Deployment\'s revision before the apply (0 when it did not exist).',
    revision: 'Its revision after the apply.',
  },
  idempotent: true,
  compensation: {
    action: 'rollback_kubernetes_deployment',
    parameters: {
      cluster: '${input.cluster}',
      namespace: '${input.namespace}',
      deployment: '${output.deployment}',
      revision: '${output.previous_revision}',
    },
    requires_outputs: ['deployment', 'previous_revision'],
  },
};

const workloadKind = strEnum(['deployment', 'statefulset', 'daemonset'], 'Workload kind.', { default: 'deployment' });

const waitForRollout: ActionSpec = {
  contractor: C,
  name: 'wait_for_rollout',
  summary:
    '`kubectl rollout status <kind>/<name> -n <ns> --timeout=<timeout>s` (or `<kind> -l <selector>`). Exit 0 ("successfully ' +
    'rolled out") is success; "timed out waiting for the condition" or "exceeded its progress deadline" is failure. Never ' +
    'uses --watch=false.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      deployment: k8sName('Workload'),
      selector,
      kind: workloadKind,
      timeout: int('Rollout wait, seconds (keep the action timeout larger).', { minimum: 1, maximum: 86400, default: 300 }),
    },
    ['cluster', 'namespace'],
    { anyOf: atLeastOne('deployment', 'selector') },
  ),
  outputs: { deployment: 'Workload name (or the selector).', resources: 'Workloads that rolled out.', message: 'kubectl\'s final line.' },
  idempotent: true,
};

const verifyPodHealth: ActionSpec = {
  contractor: C,
  name: 'verify_pod_health',
  summary:
    '`kubectl get pods -n <ns> -l <selector> -o json` (selector default: the Deployment\'s spec.selector.matchLabels, ' +
    'e.g. app=<deployment>). A pod is healthy when Running (or Succeeded), Ready=True and no container waits in ' +
    'CrashLoopBackOff/ImagePullBackOff/ErrImagePull. Fails when there are no pods, fewer than expected_replicas are ' +
    'ready, any pod is unhealthy while all_ready_required, or the ready fraction is below min_ready_fraction. node_ports ' +
    'come from the Service named `service` (default: the deployment name), node_ips from the nodes running the pods.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      deployment: k8sName('Deployment'),
      selector,
      expected_replicas: int('Minimum number of ready pods.', { minimum: 0 }),
      all_ready_required: bool('Every matching pod must be healthy.', true),
      min_ready_fraction: num('Minimum ready/total fraction, 0..1.', { minimum: 0, maximum: 1 }),
      service: k8sName('Service'),
    },
    ['cluster', 'namespace'],
    { anyOf: atLeastOne('deployment', 'selector') },
  ),
  outputs: {
    healthy: 'True when the checks passed.',
    ready_replicas: 'Number of ready pods.',
    total_pods: 'Number of matching pods.',
    unhealthy_pods: 'Names of pods that are not healthy.',
    pod_ips: 'IPs of the ready pods.',
    node_ips: 'InternalIPs of the nodes running ready pods.',
    node_ports: 'nodePorts of the Service (empty when it has none).',
  },
  idempotent: true,
};

const rollbackKubernetesDeployment: ActionSpec = {
  contractor: C,
  name: 'rollback_kubernetes_deployment',
  summary:
    '`kubectl rollout undo deployment/<name> -n <ns> [--to-revision=N]` then waits like wait_for_rollout. revision ' +
    '"previous" undoes the last rollout; N rolls back to revision N (a no-op when already there); 0 means the deployment ' +
    'did not exist before, so it is deleted (`kubectl delete deployment --ignore-not-found`).',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      deployment: k8sName('Deployment'),
      revision,
      wait: bool('Wait for the rollback to roll out.', true),
      timeout_seconds: timeoutSeconds(300),
    },
    ['cluster', 'namespace', 'deployment'],
  ),
  outputs: {
    deployment: 'Deployment.',
    revision: 'Revision after the rollback.',
    rolled_back: 'True when the template changed.',
    deleted: 'True when the deployment was deleted (revision 0).',
  },
  idempotent: false,
};

const scaleDeployment: ActionSpec = {
  contractor: C,
  name: 'scale_deployment',
  summary:
    'Records current replicas, then `kubectl scale deployment/<name> --replicas=N` (or every deployment matching ' +
    '`selector`, or per name from replicas_by_deployment); optionally waits for the rollouts. Rollback scales each back ' +
    'to its recorded count.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      deployment: k8sName('Deployment'),
      selector,
      replicas: int('Target replicas.', { minimum: 0 }),
      replicas_by_deployment: map({ type: 'integer', minimum: 0 }, 'Deployment name -> replicas.'),
      wait: bool('Wait for the scaled deployments to roll out.', false),
      timeout_seconds: timeoutSeconds(600),
    },
    ['cluster', 'namespace'],
    {
      allOf: [
        { anyOf: atLeastOne('deployment', 'selector', 'replicas_by_deployment') },
        { anyOf: atLeastOne('replicas', 'replicas_by_deployment') },
      ],
    },
  ),
  outputs: {
    deployments: 'Deployments scaled.',
    previous_replicas: 'Deployment name -> replicas before.',
    replicas: 'Deployment name -> replicas after.',
  },
  idempotent: true,
  compensation: {
    action: 'scale_deployment',
    parameters: {
      cluster: '${input.cluster}',
      namespace: '${input.namespace}',
      replicas_by_deployment: '${output.previous_replicas}',
    },
    requires_outputs: ['previous_replicas'],
  },
};

const cordonNode: ActionSpec = {
  contractor: C,
  name: 'cordon_node',
  summary:
    'Reads the node (`kubectl get node -o json`), `kubectl cordon <node>`, then checks spec.unschedulable. A node that ' +
    'was already cordoned stays cordoned on rollback (was_cordoned).',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params({ cluster, node: nodeName }, ['cluster', 'node']),
  outputs: { node: 'Node.', status: '"cordoned".', was_cordoned: 'True when it was already cordoned.' },
  idempotent: true,
  compensation: {
    action: 'uncordon_node',
    parameters: { cluster: '${input.cluster}', node: '${input.node}', skip: '${output.was_cordoned}' },
  },
};

const uncordonNode: ActionSpec = {
  contractor: C,
  name: 'uncordon_node',
  summary: '`kubectl uncordon <node>`, then checks spec.unschedulable is unset.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params({ cluster, node: nodeName, skip: SKIP }, ['cluster', 'node']),
  outputs: { node: 'Node.', status: '"schedulable" ("skipped" with skip, "not_found" when the node no longer exists).' },
  idempotent: true,
};

const drainNode: ActionSpec = {
  contractor: C,
  name: 'drain_node',
  summary:
    '`kubectl drain <node> [--ignore-daemonsets] [--delete-emptydir-data] [--force] --timeout=<s>s`; "node/<n> drained" ' +
    'is success, "There are pending nodes to be drained" failure (node_drain_refused when kubectl refuses pods with ' +
    'emptyDir data or without a controller). With preserve_forensics, it cordons, saves the node\'s pod list and each ' +
    'pod\'s last 1000 log lines under the execution\'s artifacts (forensics_path), never uses --force or ' +
    '--delete-emptydir-data, and drains what it can: pods kubectl would refuse (emptyDir data, no controller) get the ' +
    'label cortex.dev/forensic-hold=true, stay on the node and are listed in left_pods; the drain skips them ' +
    '(--pod-selector=!cortex.dev/forensic-hold). Rollback uncordons the node unless it was cordoned before.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      node: nodeName,
      ignore_daemonsets: bool('Skip DaemonSet pods (--ignore-daemonsets).', true),
      delete_emptydir_data: bool('Allow deleting pods with emptyDir data.', false),
      force: bool('Also delete pods without a controller (--force).', false),
      grace_period_seconds: int('Pod termination grace (--grace-period).', { minimum: 0, maximum: 3600 }),
      pod_selector: selector,
      preserve_forensics: bool('Save pod list and logs before evicting; never force.', false),
      timeout_seconds: timeoutSeconds(300),
    },
    ['cluster', 'node'],
  ),
  outputs: {
    node: 'Node.',
    evacuated_pods: 'Number of pods evicted.',
    evicted: 'Evicted pods as namespace/name.',
    left_pods: 'Pods left on the node by a forensic drain: [{pod: namespace/name, reason: "emptyDir data" | "no controller"}].',
    forensics_path: 'Where the pod list and logs were saved, or null.',
    was_cordoned: 'True when the node was cordoned before the drain.',
  },
  idempotent: true,
  compensation: {
    action: 'uncordon_node',
    parameters: { cluster: '${input.cluster}', node: '${input.node}', skip: '${output.was_cordoned}' },
  },
};

const peer: Schema = closed(
  {
    pod_selector: labels,
    namespace_selector: labels,
    ip_block: closed({ cidr: str('CIDR.', { minLength: 1 }), except: arr(str('CIDR.'), 'Excluded CIDRs.') }, ['cidr'], 'An IP range.'),
    dns_selector: bool('The cluster DNS pods (k8s-app=kube-dns in kube-system).'),
  },
  [],
  'A peer: pods by labels, namespaces by labels, an IP block, or the cluster DNS.',
);
const policyPort: Schema = closed(
  {
    port: { description: 'Port number or name.', anyOf: [{ type: 'integer', minimum: 1, maximum: 65535 }, { type: 'string', minLength: 1 }] },
    end_port: int('End of a port range.', { minimum: 1, maximum: 65535 }),
    protocol: strEnum(['TCP', 'UDP', 'SCTP'], 'Protocol (default TCP).'),
  },
  [],
);

const applyNetworkPolicy: ActionSpec = {
  contractor: C,
  name: 'apply_network_policy',
  summary:
    'Renders a networking.k8s.io/v1 NetworkPolicy named policy_name and applies it like apply_kubernetes_manifest. ' +
    'target_selector.match_labels selects pods directly; target_selector.node selects the pods running on that node: ' +
    'they are labelled cortex.dev/isolate=<value> and annotated cortex.dev/isolate-policy=<policy_name>, and the policy ' +
    '(one per namespace that has such pods, or only `namespace`) selects that label. <value> is policy_name when it is ' +
    'a valid label value (at most 63 characters), else its first 52 characters, "-" and 10 hex digits of its SHA-256. ' +
    'The same for a pod target. ' +
    'ingress_rules/egress_rules absent: that direction is not restricted; an empty ' +
    'list: deny all. dns_selector peers mean kube-dns. Enforcement depends on the CNI. Rollback deletes the policies and ' +
    'the labels.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      namespace,
      policy_name: k8sName('NetworkPolicy'),
      target_selector: closed(
        {
          node: nodeName,
          match_labels: labels,
          pod: k8sName('Pod'),
        },
        [],
        'Which pods the policy applies to.',
      ),
      ingress_rules: arr(closed({ from: arr(peer, 'Allowed sources.'), ports: arr(policyPort, 'Allowed ports.') }), 'Allowed inbound traffic.'),
      egress_rules: arr(closed({ to: arr(peer, 'Allowed destinations.'), ports: arr(policyPort, 'Allowed ports.') }), 'Allowed outbound traffic.'),
    },
    ['cluster', 'policy_name', 'target_selector'],
  ),
  outputs: {
    policy_name: 'Policy name.',
    namespaces: 'Namespaces a policy was applied in.',
    policies: 'Applied policies as namespace/name.',
    labelled_pods: 'Pods labelled for a node or pod target.',
    isolation_label: 'The label the policy selects (cortex.dev/isolate=<value>) for a node or pod target, else null.',
  },
  idempotent: true,
  compensation: {
    action: 'delete_network_policy',
    parameters: { cluster: '${input.cluster}', policy_name: '${input.policy_name}', namespaces: '${output.namespaces}' },
    requires_outputs: ['namespaces'],
  },
};

const deleteNetworkPolicy: ActionSpec = {
  contractor: C,
  name: 'delete_network_policy',
  summary:
    '`kubectl delete networkpolicy <name> -n <ns> --ignore-not-found` in `namespace`/`namespaces` (default: every namespace ' +
    'holding one of that name), and removes the cortex.dev/isolate pod label and cortex.dev/isolate-policy annotation ' +
    'apply_network_policy set for that name.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      policy_name: k8sName('NetworkPolicy'),
      namespace,
      namespaces: arr(namespace, 'Namespaces to delete it from.'),
      remove_labels: bool('Remove the cortex.dev/isolate label from pods.', true),
    },
    ['cluster', 'policy_name'],
  ),
  outputs: { deleted: 'Policies deleted as namespace/name.' },
  idempotent: true,
};

const captureClusterState: ActionSpec = {
  contractor: C,
  name: 'capture_cluster_state',
  summary:
    'Forensics: saves `kubectl get ... -o json` output (pods, events, nodes, deployments, services, network policies; ' +
    'limited to `node`/`namespace` when given) and the last log_lines of each matching pod\'s containers under the ' +
    'execution\'s artifacts; when output_location is an s3:// or https:// URL the files are also uploaded through the ' +
    'forensics service (config endpoints.forensics). Changes nothing in the cluster.',
  kind: 'tool',
  uses: [...KUBECTL, 'forensics'],
  parameters: params(
    {
      cluster,
      node: nodeName,
      namespace,
      capture: arr(
        strEnum(['pod_list', 'events', 'logs', 'nodes', 'deployments', 'services', 'network_policies'], 'What to capture.'),
        'What to capture (default pod_list, events, logs).',
        { minItems: 1 },
      ),
      output_location: str('Upload destination (s3://..., https://...) or a local directory.', { minLength: 1 }),
      log_lines: int('Log lines per container.', { minimum: 1, maximum: 100000, default: 1000 }),
    },
    ['cluster'],
  ),
  outputs: { location: 'Where the files are.', files: 'Files written.', pods: 'Number of pods captured.' },
  idempotent: true,
};

const installHelmChart: ActionSpec = {
  contractor: C,
  name: 'install_helm_chart',
  summary:
    'Records the last deployed revision (`helm history -o json`; 0 when the release does not exist), then `helm upgrade ' +
    '--install <release> <chart> -n <ns> [--create-namespace] [--version] [--repo] -f <values> --wait --timeout <s>s ' +
    '--atomic -o json` (`--rollback-on-failure` on Helm 4). Success is exit 0 and .info.status "deployed". Rollback: ' +
    'rollback_helm_release to previous_revision, which uninstalls the release when it was 0 (a fresh install).',
  kind: 'tool',
  uses: HELM,
  parameters: params(
    {
      cluster,
      release: str('Release name.', { pattern: DNS_LABEL, maxLength: 53 }),
      chart: str('Chart: repo/name, an OCI reference, or a path (with repo_url: the bare chart name); must not start with "-".', { minLength: 1, pattern: NOT_AN_OPTION }),
      repo_url: str('Chart repository URL (--repo), so no `helm repo add` is needed.', { pattern: '^(https?|oci)://' }),
      version: str('Chart version (--version).', { minLength: 1 }),
      namespace,
      create_namespace: bool('--create-namespace.', true),
      values: openObject('Values, written to a temporary file passed with -f.'),
      values_files: arr(str('Path.', { minLength: 1 }), 'Extra values files, applied before `values`.'),
      atomic: bool('Roll back (upgrade) or uninstall (install) on failure.', true),
      wait: bool('Wait for resources to be ready.', true),
      timeout_seconds: timeoutSeconds(600),
    },
    ['cluster', 'release', 'chart', 'namespace'],
  ),
  outputs: {
    release: 'Release name.',
    namespace: 'Namespace.',
    revision: 'Revision after the install/upgrade.',
    previous_revision: 'Last deployed revision before (0 when it was a fresh install).',
    status: 'Helm status ("deployed").',
    chart_version: 'Chart version installed.',
    app_version: 'Chart appVersion.',
  },
  idempotent: true,
  compensation: {
    action: 'rollback_helm_release',
    parameters: {
      cluster: '${input.cluster}',
      release: '${output.release}',
      namespace: '${output.namespace}',
      revision: '${output.previous_revision}',
    },
    requires_outputs: ['release', 'namespace', 'previous_revision'],
  },
};

const uninstallHelmRelease: ActionSpec = {
  contractor: C,
  name: 'uninstall_helm_release',
  summary:
    '`helm status <release> -n <ns> -o json` decides whether the release exists ("release: not found": nothing to do, ' +
    'uninstalled false); then `helm uninstall <release> -n <ns> --wait --timeout <s>s [--keep-history]` (no ' +
    '--ignore-not-found: Helm < 3.13 lacks it, and Helm prints "uninstalled" even for a missing release), then checks ' +
    '`helm list --filter ^<release>$` is empty. PVCs are kept unless preserve_pvcs is false (then PVCs labelled ' +
    'app.kubernetes.io/instance=<release> are deleted). Irreversible.',
  kind: 'tool',
  uses: HELM,
  parameters: params(
    {
      cluster,
      release: str('Release name.', { pattern: DNS_LABEL, maxLength: 53 }),
      namespace,
      keep_history: bool('--keep-history.', false),
      preserve_pvcs: bool('Keep the release\'s PersistentVolumeClaims.', true),
      wait: bool('Wait for resources to be deleted.', true),
      timeout_seconds: timeoutSeconds(300),
    },
    ['cluster', 'release', 'namespace'],
  ),
  outputs: { release: 'Release.', uninstalled: 'False when it did not exist.', deleted_pvcs: 'PVCs deleted.' },
  idempotent: true,
};

const rollbackHelmRelease: ActionSpec = {
  contractor: C,
  name: 'rollback_helm_release',
  summary:
    '`helm rollback <release> [<revision>] -n <ns> --wait --timeout <s>s`. revision "previous" (helm\'s default) or N; 0 ' +
    'means there was no earlier revision, so the release is uninstalled when `helm status` finds it (as ' +
    'uninstall_helm_release does).',
  kind: 'tool',
  uses: HELM,
  parameters: params(
    {
      cluster,
      release: str('Release name.', { pattern: DNS_LABEL, maxLength: 53 }),
      namespace,
      revision,
      wait: bool('Wait for resources to be ready.', true),
      timeout_seconds: timeoutSeconds(600),
    },
    ['cluster', 'release', 'namespace'],
  ),
  outputs: { release: 'Release.', revision: 'Revision after the rollback (0 when uninstalled).', uninstalled: 'True when revision was 0 and a live release was removed.' },
  idempotent: false,
};

const applySecurityPatches: ActionSpec = {
  contractor: C,
  name: 'apply_security_patches',
  summary:
    'Replaces vulnerable images with fixed ones through kubectl: for each vulnerability with a fixed_image, a ' +
    'server-side apply patch (field manager cortex-security) sets that image on the named workload container; with ' +
    'scope cluster_wide and no workload named, on every container in the cluster whose image repository matches ' +
    'fixed_image\'s. Then waits for the rollouts. Entries without fixed_image are reported as skipped. Not undone on ' +
    'rollback (reverting a security fix is never automatic).',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      vulnerabilities: arr(
        closed(
          {
            id: str('Vulnerability id, e.g. CVE-2024-1234.', { minLength: 1 }),
            package: str('Affected package.'),
            severity: strEnum(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'], 'Severity.'),
            namespace,
            kind: strEnum(['Deployment', 'StatefulSet', 'DaemonSet'], 'Workload kind.'),
            name: k8sName('Workload'),
            container: str('Container name (default: every container with the vulnerable image).'),
            image: str('Vulnerable image.'),
            fixed_image: str('Image that fixes it.', { minLength: 1 }),
          },
          ['id'],
        ),
        'Vulnerabilities to fix (security-master\'s review output).',
      ),
      scope: strEnum(['cluster_wide', 'namespace', 'workload'], 'How far to look for the vulnerable image.', {
        default: 'workload',
      }),
      namespace,
      wait: bool('Wait for the patched workloads to roll out.', true),
      timeout_seconds: timeoutSeconds(900),
    },
    ['vulnerabilities'],
  ),
  outputs: { patched: 'Workloads patched as namespace/kind/name.', skipped: 'Vulnerability ids not patched.', count: 'Number patched.' },
  idempotent: true,
};

const implementSecurityControls: ActionSpec = {
  contractor: C,
  name: 'implement_security_controls',
  summary:
    'Applies security controls with kubectl: pod_security_standard labels the namespace(s) ' +
    'pod-security.kubernetes.io/<mode>=<level> (--overwrite; namespace "*" = every namespace except kube-system); ' +
    'default_deny_network_policy applies NetworkPolicy cortex-default-deny (all ingress and egress denied except DNS); ' +
    'network_policy applies the given spec as `name`; namespace_labels sets labels. Not undone on rollback.',
  kind: 'tool',
  uses: KUBECTL,
  parameters: params(
    {
      cluster,
      controls: arr(
        closed(
          {
            type: strEnum(
              ['pod_security_standard', 'default_deny_network_policy', 'network_policy', 'namespace_labels'],
              'Kind of control.',
            ),
            namespace: str('Namespace, or "*" for all but kube-system.', { pattern: `^(\\*|${DNS_LABEL.slice(1, -1)})$` }),
            level: strEnum(['privileged', 'baseline', 'restricted'], 'Pod Security Standard level.'),
            mode: strEnum(['enforce', 'audit', 'warn'], 'Pod Security admission mode (default enforce).'),
            name: k8sName('Object'),
            labels,
            policy: openObject('NetworkPolicy spec for type network_policy.'),
          },
          ['type'],
        ),
        'Controls to put in place (security-master\'s recommended_controls).',
      ),
    },
    ['controls'],
  ),
  outputs: { applied: 'Controls applied, one line each.', count: 'Number applied.' },
  idempotent: true,
};

export const TALOS_SPECS: readonly ActionSpec[] = [
  generateTalosConfig,
  applyTalosConfig,
  bootstrapTalosCluster,
  talosHealth,
  getKubeconfig,
  etcdSnapshot,
  upgradeTalosNode,
  rollbackTalosNode,
  joinNodes,
  removeNodes,
  createNamespace,
  verifyNamespaceExists,
  verifySecrets,
  applyKubernetesManifest,
  waitForRollout,
  verifyPodHealth,
  rollbackKubernetesDeployment,
  scaleDeployment,
  cordonNode,
  uncordonNode,
  drainNode,
  applyNetworkPolicy,
  deleteNetworkPolicy,
  captureClusterState,
  installHelmChart,
  uninstallHelmRelease,
  rollbackHelmRelease,
  applySecurityPatches,
  implementSecurityControls,
];
