import type { ActionImpl } from '../action-impl.js';
import { planProvision, provision, provisionOutputs, type ProvisionOptions, type VmSpec } from './provision.js';
import { Pvesh } from './pvesh.js';

interface Params {
  specs: VmSpec;
  hardened?: boolean;
  hardened_template_vmid?: number;
}

/**
 * Hardened: the hardened template (hardened_template_vmid, else specs.template_vmid, else the
 * template tagged `hardened`, else config proxmox.template_vmid), tag `hardened`, VM firewall on
 * with policy_in DROP before the first start.
 */
function optionsOf(p: Params): ProvisionOptions {
  if (p.hardened === false) return {};
  return {
    ...(p.hardened_template_vmid !== undefined ? { templateVmid: p.hardened_template_vmid } : {}),
    templateTag: 'hardened',
    extraTags: ['hardened'],
    reuseRequiresTags: ['hardened'],
    firewallOptions: [
      ['enable', 1],
      ['policy_in', 'DROP'],
    ],
  };
}

export const provisionReplacementResourceAction: ActionImpl = {
  plan(params, ctx) {
    const p = params as unknown as Params;
    return planProvision({ ...p.specs, firewall: p.hardened === false ? p.specs.firewall : true }, ctx, optionsOf(p));
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const hardened = p.hardened !== false;
    // The hardened path always puts the NIC behind the VM firewall (firewall=1).
    const spec: VmSpec = hardened ? { ...p.specs, firewall: true } : p.specs;
    const r = await provision(rt, new Pvesh(rt), spec, optionsOf(p));
    return { ...provisionOutputs(r), hardened };
  },
};
