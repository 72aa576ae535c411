import { fileURLToPath } from 'node:url';
import type { LabModule } from '../module.js';
import { writeState } from '../lab-dir.js';
import { emptyHelmState, HELM_STATE, latest, readHelm } from './state.js';

/**
 * Helm releases of the lab: state `helm` (releases per namespace, each a list of revisions with
 * status, chart, version and values) and the stand-in `helm`, which creates the charts' objects
 * through the lab Kubernetes API server.
 */
export const helmModule: LabModule = {
  name: 'helm',
  seed(lab) {
    writeState(lab, HELM_STATE, emptyHelmState());
  },
  tools: { helm: fileURLToPath(new URL('./helm-main.js', import.meta.url)) },
  describe(lab) {
    const state = readHelm(lab);
    const releases: Record<string, string> = {};
    for (const [ns, rels] of Object.entries(state.releases)) {
      for (const [name, revs] of Object.entries(rels)) {
        const l = latest(revs);
        if (l) releases[`${ns}/${name}`] = `${l.chart}-${l.chart_version} revision ${l.revision} ${l.status}`;
      }
    }
    return { version: state.version, releases };
  },
};
