import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labPaths, writeLabConfig, type LabFault } from '../../../../src/lab/lab-dir.js';
import { helmModule } from '../../../../src/lab/helm/module.js';
import { talosModule } from '../../../../src/lab/talos/module.js';

/** A seeded lab directory (talos + helm modules); the API server URL goes to services.json. */
export function newLab(o: { kubeUrl?: string; faults?: LabFault[] } = {}): { lab: string; env: (actionId?: string, attempt?: number) => NodeJS.ProcessEnv } {
  const lab = mkdtempSync(join(tmpdir(), 'cortex-lab-'));
  talosModule.seed(lab);
  helmModule.seed(lab);
  writeLabConfig(lab, { latency: 0.05, faults: o.faults ?? [] });
  if (o.kubeUrl) writeFileSync(labPaths(lab).services, JSON.stringify({ pid: process.pid, urls: { kubernetes: o.kubeUrl } }));
  return {
    lab,
    env: (actionId = 'act-1', attempt = 1) => ({
      CORTEX_LAB_DIR: lab,
      CORTEX_EXECUTION_ID: 'exec-1',
      CORTEX_ACTION_ID: actionId,
      CORTEX_ATTEMPT: String(attempt),
      TALOSCONFIG: labPaths(lab).talosconfig,
    }),
  };
}
