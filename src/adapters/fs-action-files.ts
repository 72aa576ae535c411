import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { layout } from '../layout.js';
import type { ActionFiles, ActionFileStore } from '../ports/files.js';
import { mkdirPrivate, writeFileAtomic } from './atomic-file.js';

/** A sub-folder name that stays inside the action's artifacts folder. */
const PLAIN_SEGMENT = /^(?!\.\.?$)[^/\\\0]+$/;

/** ActionFiles on the local file system, under one coordination root. */
export class FsActionFileStore implements ActionFileStore {
  /** The same for every action (each attempt asks for its ActionFiles). */
  private readonly paths: { artifacts: string; clusters: string };

  constructor(private readonly root: string) {
    const { artifacts, clusters } = layout(root);
    this.paths = { artifacts, clusters };
  }

  forAction(executionId: string, actionId: string): ActionFiles {
    const paths = this.paths;
    return {
      readText: (path) => readFile(path, 'utf8'),
      // Under the root no link is followed; elsewhere (a path the operator chose) as given.
      writePrivate: (path, data) => writeFileAtomic(path, data, 0o600, { root: this.root }),
      mkdirPrivate: (dir) => mkdirPrivate(dir, { root: this.root }),
      chmodPrivate: async (path) => {
        const s = await stat(path);
        await chmod(path, s.isDirectory() ? 0o700 : 0o600);
      },
      exists: async (path) =>
        stat(path).then(
          () => true,
          () => false,
        ),
      artifactsDir: async (sub) => {
        if (sub !== undefined && !PLAIN_SEGMENT.test(sub)) throw new Error(`artifacts sub-folder must be one plain name, got "${sub}"`);
        const dir = join(paths.artifacts, executionId, actionId, ...(sub ? [sub] : []));
        await mkdirPrivate(dir, { root: this.root });
        return dir;
      },
      clustersDir: () => paths.clusters,
    };
  }
}
