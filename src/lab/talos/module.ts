import { fileURLToPath } from 'node:url';
import type { LabModule } from '../module.js';
import { writeState } from '../lab-dir.js';
import { readTalos, seedTalosState, TALOS_STATE, writeSeedFiles } from './state.js';

/**
 * Talos clusters of the lab: state `talos` (clusters, members, bootstrap flag, etcd revision,
 * versions, applied configs), the generated files of the seeded clusters under
 * <lab>/clusters/<name>/ plus <lab>/talosconfig, and the stand-in `talosctl`.
 */
export const talosModule: LabModule = {
  name: 'talos',
  seed(lab) {
    const state = seedTalosState();
    writeState(lab, TALOS_STATE, state);
    writeSeedFiles(lab, state);
  },
  tools: { talosctl: fileURLToPath(new URL('./talosctl-main.js', import.meta.url)) },
  describe(lab) {
    const state = readTalos(lab);
    return Object.fromEntries(
      Object.values(state.clusters).map((c) => [
        c.name,
        {
          endpoint: c.endpoint,
          bootstrapped: c.bootstrapped,
          talos: c.talos_version,
          kubernetes: c.kubernetes_version,
          etcd_revision: c.etcd_revision,
          nodes: c.nodes.map((n) => `${n.hostname} ${n.ip} ${n.machine_type} ${n.talos_version}`),
          snapshots: c.snapshots.length,
        },
      ]),
    );
  },
};
