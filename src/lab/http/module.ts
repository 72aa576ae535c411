import type { LabModule } from '../module.js';
import { writeState } from '../lab-dir.js';

// Placeholder being replaced by the http lab module (owner: the engineer building it).
export const httpModule: LabModule = {
  name: 'http',
  seed(lab) {
    writeState(lab, 'http', {});
  },
};
