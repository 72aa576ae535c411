import { join } from 'node:path';
import { layout } from '../layout.js';
import type { TriggerStateName, TriggerStateStore } from '../ports/trigger-state.js';
import { writeFileAtomic } from './atomic-file.js';
import { keepDamagedCopy } from './damaged-copy.js';
import { readJsonFile } from './record-files.js';

/** `<root>/state/<name>.json`: tick.json, dedup.json. */
export function triggerStatePath(root: string, name: TriggerStateName): string {
  return join(layout(root).state, `${name}.json`);
}

/** The triggers' state documents as pretty-printed JSON files under `<root>/state/`, written 0600 through atomic-file.ts. */
export class FsTriggerStateStore implements TriggerStateStore {
  constructor(private readonly root: string) {}

  async read(name: TriggerStateName): Promise<unknown> {
    return readJsonFile<unknown>(triggerStatePath(this.root, name));
  }

  async write(name: TriggerStateName, document: unknown): Promise<void> {
    await writeFileAtomic(triggerStatePath(this.root, name), `${JSON.stringify(document, null, 2)}\n`, 0o600, { root: this.root });
  }

  async keepDamaged(name: TriggerStateName): Promise<string | undefined> {
    return keepDamagedCopy(triggerStatePath(this.root, name), { root: this.root });
  }

  describe(name: TriggerStateName): string {
    return triggerStatePath(this.root, name);
  }
}
