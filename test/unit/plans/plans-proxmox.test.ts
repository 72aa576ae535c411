/**
 * Every Proxmox call in the dry-run plan of every built-in workflow and template is one Proxmox
 * accepts: checked against the published API schema (upstream/pve-api.json) the way real pvesh
 * parses and validates it. Values known only at run time (<placeholders>) are taken as valid.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { checkApiRequest } from '../../../src/lab/pve/https.js';
import { checkPveshArgv } from '../../../src/lab/pve/pvesh.js';
import { builtinPlans, planErrors, stepsOf, type WorkflowPlan } from '../../helpers/workflow-plans.js';

const API = { url: 'https://pve01.example.net:8006', token_secret: 'PVE_API_TOKEN' };

let plans: WorkflowPlan[];
let apiPlans: WorkflowPlan[];
beforeAll(async () => {
  plans = await builtinPlans();
  apiPlans = await builtinPlans({ proxmox: { api: API } });
}, 60_000);

describe('dry-run plans of the built-in workflows and templates against the Proxmox API schema', () => {
  it('plans every workflow and template, and no Proxmox action of a plan holds an error', () => {
    expect(plans.map((p) => p.source).sort()).toEqual([
      'workflows/app-deployment.json',
      'workflows/build-k8s-cluster.json',
      'workflows/deploy-monitoring-stack.json',
      'workflows/disaster-recovery-failover.json',
      'workflows/security-incident-response.json',
      'workflows/templates/deployment-workflow.json',
      'workflows/templates/incident-response-workflow.json',
      'workflows/templates/maintenance-workflow.json',
    ]);
    // (talos-contractor's list placeholders are issue 11 §2.14, fixed with that contractor)
    expect(plans.flatMap(planErrors).filter((e) => !/\/(apply-cp-config|apply-worker-config|cluster-health|join-monitoring-nodes):/.test(e))).toEqual([]);
    expect(plans.flatMap((p) => p.phases.flatMap((ph) => ph.actions.filter((a) => a.contractor === 'infrastructure-contractor' && a.error)))).toEqual([]);
  });

  it('every pvesh call is one pvesh accepts', () => {
    const calls = plans.flatMap(stepsOf).filter(({ step }) => step.kind === 'command' && step.tool === 'pvesh');
    expect(calls.length).toBeGreaterThan(50);
    const problems = calls.flatMap(({ where, step }) => (step.kind === 'command' ? checkPveshArgv(step.args).map((p) => `${where}: pvesh ${step.args.join(' ')}\n    ${p}`) : []));
    expect(problems).toEqual([]);
  });
});

describe('the same plans over the HTTPS API (proxmox.api)', () => {
  it('every Proxmox request is one the API accepts, and no pvesh is left', () => {
    const steps = apiPlans.flatMap(stepsOf);
    expect(steps.filter(({ step }) => step.kind === 'command' && step.tool === 'pvesh')).toEqual([]);
    const requests = steps.filter(({ step }) => step.kind === 'request' && step.url.startsWith(`${API.url}/api2/json/`));
    expect(requests.length).toBe(plans.flatMap(stepsOf).filter(({ step }) => step.kind === 'command' && step.tool === 'pvesh').length);
    const problems = requests.flatMap(({ where, step }) => (step.kind === 'request' ? checkApiRequest(step.method, step.url, step.body as Record<string, unknown> | undefined).map((p) => `${where}: ${step.method} ${step.url}\n    ${p}`) : []));
    expect(problems).toEqual([]);
  });
});

describe('the plan check itself', () => {
  it.each([
    [['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '<nextid>', '--name', 'x', '--output-format', 'json'], []],
    [['create', '/nodes/pve-01/qemu/9000/clone', '--newid', '<nextid>', '--description', 'd', '--pool', 'p', '--bogus', '1'], ['Unknown option: bogus']],
    [['set', '/nodes/<node>/qemu/<vmid>/config', '--net0', 'virtio,bridge=vmbr0,speed=1'], ['net0: invalid format - invalid key in comma-separated list property: speed']],
    [['set', '/nodes/<node>/qemu/<vmid>/config', '--net0', 'virtio,bridge=<vnet>,speed=1'], []],
    [['get', '/nodes/<node>/qemu/<vmid>/nonsense'], ["No 'get' handler defined for '/nodes/<node>/qemu/<vmid>/nonsense'"]],
    [['create', '/cluster/firewall/ipset', '--name', `p-${'x'.repeat(70)}`], ['name: value may only be 64 characters long']],
  ])('pvesh %j', (argv, problems) => {
    expect(checkPveshArgv(argv)).toEqual(problems);
  });

  it('checks requests the same way', () => {
    expect(checkApiRequest('POST', 'https://h:8006/api2/json/nodes/<node>/qemu/9000/clone', { newid: '<nextid>', bogus: '1' })).toEqual(['bogus: property is not defined in schema and the schema does not allow additional properties']);
    expect(checkApiRequest('GET', 'https://h:8006/api2/json/cluster/resources?type=vms')).toEqual(["type: value 'vms' does not have a value in the enumeration 'vm, storage, node, sdn'"]);
    expect(checkApiRequest('PUT', 'https://h:8006/api2/json/version')).toEqual(["Method 'PUT /version' not implemented"]);
  });
});
