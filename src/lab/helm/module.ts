import type { LabModule } from '../module.js';
import { writeState } from '../lab-dir.js';

// Placeholder being replaced by the helm lab module (owner: the engineer building it).
export const helmModule: LabModule = {
  name: 'helm',
  seed(lab) {
    writeState(lab, 'helm', {});
  },
};
