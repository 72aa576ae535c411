import { statSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EnvironmentError } from '../errors.js';
import type { SecretSource } from '../ports/secret-source.js';
import { RACY_MS } from '../definitions/memo.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `${secrets.NAME}`: the environment variable CORTEX_SECRET_<NAME> first, else the file
 * <root>/secrets/<NAME>, which must be a regular file not readable by group or others (like ssh
 * keys). The file may be a symbolic link (to a mounted secret, say): what it points to is what
 * must be a private regular file. cortex never writes under secrets/.
 */
export class EnvFileSecretSource implements SecretSource {
  /** The last value read from each file, with the state of the file it was read in (serve authenticates every request). */
  private readonly read = new Map<string, { stamp: string; value: string }>();

  constructor(
    private readonly secretsDir: string,
    private readonly env: Record<string, string | undefined>,
    /** The wall clock file times are compared with (tests). */
    private readonly now: () => number = Date.now,
  ) {}

  describe(name: string): string {
    return `environment variable CORTEX_SECRET_${name.toUpperCase()} or file ${join(this.secretsDir, name)}`;
  }

  async all(): Promise<string[]> {
    const values = Object.entries(this.env)
      .filter(([k, v]) => /^CORTEX_SECRET_/.test(k) && typeof v === 'string')
      .map(([, v]) => v as string);
    let names: string[] = [];
    try {
      names = await readdir(this.secretsDir);
    } catch {
      names = [];
    }
    for (const name of names) {
      if (!NAME.test(name)) continue;
      try {
        const v = await this.get(name);
        if (v !== undefined) values.push(v);
      } catch {
        // An unsafe file is refused when a workflow asks for it.
      }
    }
    return values;
  }

  async get(name: string): Promise<string | undefined> {
    if (!NAME.test(name)) return undefined;
    const fromEnv = this.env[`CORTEX_SECRET_${name.toUpperCase()}`] ?? this.env[`CORTEX_SECRET_${name}`];
    if (fromEnv !== undefined) return fromEnv;
    const path = join(this.secretsDir, name);
    let st;
    try {
      // Synchronous: one system call, made for every request serve authenticates (a thread-pool
      // round trip cost more than the call).
      st = statSync(path, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    if (!st) return undefined;
    const mode = st.mode;
    if (!st.isFile()) throw new EnvironmentError(`secret file ${path} is not a regular file`, { hint: `put the secret's value in ${path}` });
    if ((mode & 0o077) !== 0) {
      throw new EnvironmentError(`secret file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)})`, {
        hint: `chmod 600 ${path}`,
      });
    }
    // Read again only when the file changed (replaced, written, or its size or times differ), and
    // kept only once it has been still for RACY_MS: two writes within one tick of the kernel's
    // file clock share their stamp (as for the definitions: src/definitions/memo.ts).
    const stamp = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    const known = this.read.get(path);
    if (known?.stamp === stamp) return known.value;
    const value = (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
    if (this.now() - Math.max(st.mtimeMs, st.ctimeMs) >= RACY_MS) this.read.set(path, { stamp, value });
    else this.read.delete(path);
    return value;
  }
}
