/**
 * The files an action reads and writes itself (machine-config patches, kubeconfigs, forensics),
 * as opposed to those its tools write. Paths are absolute. Every file written is owner-only
 * (0600) and replaced atomically; every directory made is owner-only (0700).
 */
export interface ActionFiles {
  /** The UTF-8 text of `path`. Throws the fs error (with its `code`, e.g. ENOENT) when it cannot be read. */
  readText(path: string): Promise<string>;
  /**
   * Replaces `path` with `data` (temp file, fsync, rename), mode 0600, creating missing parent
   * directories (0700). A symlink at `path` is replaced, never followed.
   */
  writePrivate(path: string, data: string): Promise<void>;
  /** Creates `dir` and its missing parents, 0700; an existing directory keeps its mode. */
  mkdirPrivate(dir: string): Promise<void>;
  /** Narrows an existing file to 0600, an existing directory to 0700. Throws when `path` does not exist. */
  chmodPrivate(path: string): Promise<void>;
  /** Whether `path` exists (a symlink counts when its target does). */
  exists(path: string): Promise<boolean>;
  /**
   * Files this action keeps after the execution (forensics):
   * `<root>/state/artifacts/<execution_id>/<action_id>[/<sub>]`, created owner-only.
   * `sub` is one plain path segment.
   */
  artifactsDir(sub?: string): Promise<string>;
  /**
   * `<root>/clusters`: the base of the generated cluster files (`<cluster>/talosconfig`, ...) when
   * no talosconfig is configured. Not created here.
   */
  clustersDir(): string;
}

/** The engine's side of ActionFiles: each action attempt gets the files scoped to it. */
export interface ActionFileStore {
  /** The ActionFiles of one action of one execution (its artifactsDir is theirs). */
  forAction(executionId: string, actionId: string): ActionFiles;
}
