import type { ActionImpl } from '../action-impl.js';
import { planProvision, provision, provisionOutputs, type VmSpec } from './provision.js';
import { Pvesh } from './pvesh.js';

export const provisionVmAction: ActionImpl = {
  plan(params, ctx) {
    return planProvision(params as unknown as VmSpec, ctx);
  },
  async run(rt) {
    const r = await provision(rt, new Pvesh(rt), rt.params as unknown as VmSpec);
    return provisionOutputs(r);
  },
};
