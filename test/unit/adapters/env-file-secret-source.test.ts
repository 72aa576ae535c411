import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { waitFor } from '../../helpers/wait.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvFileSecretSource } from '../../../src/adapters/env-file-secret-source.js';
import { EnvironmentError } from '../../../src/errors.js';

describe('EnvFileSecretSource', () => {
  let dir: string;
  let secrets: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cortex-secrets-'));
    secrets = join(dir, 'secrets');
    mkdirSync(secrets);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, value: string, mode: number) => {
    const p = join(dir, name);
    writeFileSync(p, value);
    chmodSync(p, mode);
    return p;
  };

  it('a secret file may be a symbolic link: what it points to must be a private regular file', async () => {
    symlinkSync(file('mounted', 'mounted-value\n', 0o600), join(secrets, 'MOUNTED'));
    symlinkSync(file('open', 'open-value', 0o644), join(secrets, 'OPEN'));
    symlinkSync(dir, join(secrets, 'FOLDER'));
    const source = new EnvFileSecretSource(secrets, {});
    expect(await source.get('MOUNTED')).toBe('mounted-value');
    await expect(source.get('OPEN')).rejects.toThrow(/readable by group or others \(mode 644\)/);
    await expect(source.get('FOLDER')).rejects.toThrow(EnvironmentError);
    await expect(source.get('FOLDER')).rejects.toThrow(/is not a regular file/);
    expect(await source.all()).toEqual(['mounted-value']);
  });

  it('a rotated secret is read anew at once (same size, same modification time, or a link moved to another file), and a file made readable by others is refused again', async () => {
    // Its clock is well past every write below: values are kept, so each change must be seen by its stamp.
    const source = new EnvFileSecretSource(secrets, {}, () => Date.now() + 60_000);
    const path = join(secrets, 'TOKEN');
    const at = new Date('2026-01-01T00:00:00Z');
    writeFileSync(path, 'token-aaaa');
    chmodSync(path, 0o600);
    utimesSync(path, at, at);
    expect(await source.get('TOKEN')).toBe('token-aaaa');
    expect(await source.get('TOKEN')).toBe('token-aaaa');
    const before = statSync(path, { bigint: true }).ctimeNs;
    writeFileSync(path, 'token-bbbb');
    utimesSync(path, at, at);
    // In a later tick of the kernel's file clock (within one tick, the stamp is the same: not kept then, see RACY_MS).
    await waitFor(
      () => {
        if (statSync(path, { bigint: true }).ctimeNs !== before) return true;
        utimesSync(path, at, at);
        return false;
      },
      { what: 'the file clock to move on', timeoutMs: 5000, intervalMs: 5 },
    );
    expect(await source.get('TOKEN')).toBe('token-bbbb');
    chmodSync(path, 0o644);
    await expect(source.get('TOKEN')).rejects.toThrow(/readable by group or others/);
    rmSync(path);
    symlinkSync(file('v1', 'linked-1', 0o600), path);
    expect(await source.get('TOKEN')).toBe('linked-1');
    rmSync(path);
    symlinkSync(file('v2', 'linked-2', 0o600), path);
    expect(await source.get('TOKEN')).toBe('linked-2');
    rmSync(path);
    expect(await source.get('TOKEN')).toBeUndefined();
  });
});
