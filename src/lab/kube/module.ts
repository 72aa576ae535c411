import type { LabModule } from '../module.js';
import { writeState } from '../lab-dir.js';

// Placeholder being replaced by the kube lab module (owner: the engineer building it).
export const kubeModule: LabModule = {
  name: 'kube',
  seed(lab) {
    writeState(lab, 'kube', {});
  },
};
