import { badOutput } from './tool-errors.js';

/**
 * Splits talosctl's `get ... -o json` output (a stream of indented objects, not an array) into
 * objects by balancing braces outside strings. Text between objects is ignored.
 */
export function parseJsonStream(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth > 0) inString = true;
    } else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0 && start >= 0) {
        out.push(JSON.parse(text.slice(start, i + 1)));
        start = -1;
      }
    }
  }
  if (depth !== 0) throw new Error('unterminated JSON object in stream');
  return out;
}

/** JSON from a tool's stdout, tolerating text printed before it (helm v3 may print a status line first). */
export function parseToolJson<T = unknown>(what: string, stdout: string): T {
  const trimmed = stdout.trim();
  const first = trimmed.search(/[[{]/);
  if (first < 0) throw badOutput(what, stdout);
  try {
    return JSON.parse(trimmed.slice(first)) as T;
  } catch {
    throw badOutput(what, stdout);
  }
}

export interface EtcdSnapshotInfo {
  path: string;
  bytes: number;
  hash: string | null;
  revision: number | null;
  totalKeys: number | null;
  totalSize: number | null;
}

/** `etcd snapshot saved to "<path>" (<n> bytes)` and `snapshot info: hash <h>, revision <r>, total keys <k>, total size <s>`. */
export function parseEtcdSnapshot(stdout: string): EtcdSnapshotInfo | undefined {
  const saved = /etcd snapshot saved to "(.+)" \((\d+) bytes\)/.exec(stdout);
  if (!saved) return undefined;
  const info = /snapshot info: hash ([0-9a-fA-F]+), revision (\d+), total keys (\d+), total size (\d+)/.exec(stdout);
  return {
    path: saved[1] as string,
    bytes: Number(saved[2]),
    hash: info ? (info[1] as string) : null,
    revision: info ? Number(info[2]) : null,
    totalKeys: info ? Number(info[3]) : null,
    totalSize: info ? Number(info[4]) : null,
  };
}

/** The `Tag:` of the Server section of `talosctl version` (first node). */
export function parseServerVersion(stdout: string): string | undefined {
  const server = stdout.split(/^Server:\s*$/m)[1];
  if (server === undefined) return undefined;
  return /^\s*Tag:\s*(\S+)/m.exec(server)?.[1];
}

/** A Go duration helm accepts: 600 -> "10m0s", 45 -> "45s", 3600 -> "1h0m0s". */
export function goDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${m}m${r}s`;
  if (m > 0) return `${m}m${r}s`;
  return `${r}s`;
}

/** Non-empty lines of a text. */
export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** `kind.group/name` lines of `kubectl ... -o name` (any trailing verb removed). */
export function objectNames(stdout: string): string[] {
  return lines(stdout).map((l) => l.replace(/\s+(serverside-applied|created|configured|unchanged|deleted|labeled|patched|scaled)$/, ''));
}

/** The repository part of an image reference: `ghcr.io/x/y:1.2@sha256:..` -> `ghcr.io/x/y`. */
export function imageRepository(image: string): string {
  const noDigest = image.split('@')[0] as string;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}
