import type { LabModule } from '../module.js';
import { writeState } from '../lab-dir.js';

// Placeholder being replaced by the talos lab module (owner: the engineer building it).
export const talosModule: LabModule = {
  name: 'talos',
  seed(lab) {
    writeState(lab, 'talos', {});
  },
};
