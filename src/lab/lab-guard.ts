import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { UsageError } from '../errors.js';
import { mkdirLab, writeLabFile } from './lab-dir.js';

/**
 * The file that makes a directory a lab: seeding and `cortex lab reset` delete `state/` and
 * `files/` and truncate the logs of a lab, so they only touch a directory that carries it (or an
 * empty or new one, which then gets it).
 */
export const LAB_MARKER = '.cortex-lab';

/** Folders of the coordination root a lab may never be put in (they hold cortex's own state). */
const ROOT_FOLDERS = new Set(['workflows', 'masters', 'state', 'audit', 'secrets', 'triggers', 'contractors', 'clusters']);

/** What a lab made before the marker existed holds: adopted only when all three are there and nothing else is. */
const LEGACY_SIGNATURE = ['config.json', join('state', 'pve.json'), join('bin', 'pvesh')];
const LAB_ENTRIES = new Set(['config.json', 'state', 'services.json', 'invocations.jsonl', 'requests.jsonl', 'bin', 'kubeconfig', 'talosconfig', 'files', 'secrets', 'kube-cache', 'kube-ca.crt', 'clusters']);

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
function realPathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPathOf(parent), basename(path));
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep);
}

/** True when `lab` is a lab cortex made: it has the marker (or is a lab from before the marker). */
export function isLabDir(lab: string): boolean {
  if (existsSync(join(lab, LAB_MARKER))) return true;
  try {
    return LEGACY_SIGNATURE.every((f) => existsSync(join(lab, f))) && readdirSync(lab).every((n) => LAB_ENTRIES.has(n));
  } catch {
    return false;
  }
}

/**
 * Why a lab may not live at the real path `lab` given the real path of the coordination root
 * (undefined when it may): the file system root, the coordination root, an ancestor of it, or a
 * place inside one of its own folders. Pure: no file system access.
 */
export function placeRefusal(lab: string, root: string): string | undefined {
  if (lab === dirname(lab)) return 'it is the file system root';
  if (lab === root) return 'it is the coordination directory';
  if (isInside(root, lab)) return `it contains the coordination directory ${root}`;
  if (isInside(lab, root)) {
    const first = relative(root, lab).split(sep)[0] as string;
    if (ROOT_FOLDERS.has(first)) return `it is inside the coordination directory's ${first}/`;
  }
  return undefined;
}

/**
 * Makes sure `lab` may be seeded, reset and written by the lab: a directory that does not exist
 * yet, an empty one, or one that is a lab already; never the coordination root, one of its
 * ancestors, a folder of its own, or `/`. Creates the folder (0700) and the marker.
 * Throws UsageError (exit 2) naming the directory and why.
 */
export function claimLabDir(lab: string, root: string): void {
  const refuse = (why: string, hint?: string): never => {
    throw new UsageError(`refusing to use ${lab} as the lab: ${why}`, { hint: hint ?? 'give --lab an empty or new directory (the default is <root>/lab)' });
  };
  let st;
  try {
    st = lstatSync(lab);
  } catch {
    st = undefined;
  }
  if (st && st.isSymbolicLink()) {
    try {
      st = statSync(lab);
    } catch {
      refuse('it is a symbolic link to nothing');
    }
  }
  if (st && !st.isDirectory()) refuse('it is not a directory');
  const place = placeRefusal(realPathOf(lab), realPathOf(root));
  if (place) refuse(place);
  if (st && !isLabDir(lab) && readdirSync(lab).length > 0) {
    refuse(`it is not empty and is not a lab (no ${LAB_MARKER} file)`, `if it is a lab, create the file ${join(lab, LAB_MARKER)}; else give --lab an empty or new directory`);
  }
  mkdirLab(lab);
  if (!existsSync(join(lab, LAB_MARKER))) {
    writeLabFile(join(lab, LAB_MARKER), 'This directory is a cortex --simulate lab: `cortex lab reset` deletes its state/ and files/.\n');
  }
}
