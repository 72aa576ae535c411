import type { LabModule } from '../module.js';
import { writeState } from '../lab-dir.js';

// Placeholder being replaced by the pve lab module (owner: the engineer building it).
export const pveModule: LabModule = {
  name: 'pve',
  seed(lab) {
    writeState(lab, 'pve', {});
  },
};
