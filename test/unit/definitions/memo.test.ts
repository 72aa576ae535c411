import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadDefinitions, type RootContext } from '../../../src/app/prepare.js';
import { waitFor } from '../../helpers/wait.js';
import { DefinitionsMemo, RACY_MS } from '../../../src/definitions/memo.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function newRoot(): string {
  const d = mkdtempSync(join(tmpdir(), 'cortex-memo-'));
  dirs.push(d);
  mkdirSync(join(d, 'workflows'));
  return d;
}

const workflow = (command: string) => `workflow_id: wf
workflow_name: wf
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: [${command}] } }
`;

/** A memo whose clock is past RACY_MS after every file of these tests changed: it keeps what it loads. */
const settled = (root: string) => new DefinitionsMemo(root, { now: () => Date.now() + RACY_MS + 60_000 });

function counting(): { load: () => Promise<number>; calls: () => number } {
  let n = 0;
  return { load: async () => ++n, calls: () => n };
}

describe('DefinitionsMemo', () => {
  it('loads once while no definition file changes', async () => {
    const root = newRoot();
    writeFileSync(join(root, 'workflows', 'wf.yaml'), workflow('"true"'));
    const memo = settled(root);
    const c = counting();
    expect(await memo.snapshot().get('k', c.load)).toBe(1);
    expect(await memo.snapshot().get('k', c.load)).toBe(1);
    expect(c.calls()).toBe(1);
  });

  it('loads again after an edit whose mtime was set back (same size, same mtime: touch -d, cp -p, rsync -t)', async () => {
    const root = newRoot();
    const file = join(root, 'workflows', 'wf.yaml');
    // A whole millisecond, which utimes can set again exactly (an edit within one tick of a coarse clock).
    const at = new Date('2026-01-01T00:00:00.000Z');
    writeFileSync(file, workflow('"true"'));
    utimesSync(file, at, at);
    const memo = settled(root);
    const c = counting();
    await memo.snapshot().get('k', c.load);
    const before = statSync(file, { bigint: true });
    writeFileSync(file, workflow('"echo"'));
    utimesSync(file, at, at);
    // The edit in a later tick of the kernel's file clock than the first write (what the ctime
    // then tells); a write within the same tick is the racy case below.
    await waitFor(
      () => {
        if (statSync(file, { bigint: true }).ctimeNs !== before.ctimeNs) return true;
        utimesSync(file, at, at);
        return false;
      },
      { what: 'the file clock to move on', timeoutMs: 5000, intervalMs: 5 },
    );
    const after = statSync(file, { bigint: true });
    expect([after.size, after.mtimeNs]).toEqual([before.size, before.mtimeNs]);
    expect(await memo.snapshot().get('k', c.load)).toBe(2);
  });

  it('loads again when a file is added, replaced by a rename, or removed, under each folder it watches', async () => {
    const root = newRoot();
    const memo = settled(root);
    const c = counting();
    await memo.snapshot().get('k', c.load);
    const changes = [
      () => writeFileSync(join(root, 'workflows', 'other.yaml'), 'x: 1\n'),
      () => {
        writeFileSync(join(root, 'workflows', '.other.tmp'), 'x: 1\n');
        renameSync(join(root, 'workflows', '.other.tmp'), join(root, 'workflows', 'other.yaml'));
      },
      () => rmSync(join(root, 'workflows', 'other.yaml')),
      () => {
        mkdirSync(join(root, 'workflows', 'templates'));
        writeFileSync(join(root, 'workflows', 'templates', 't.yaml'), 'x: 1\n');
      },
      () => {
        mkdirSync(join(root, 'contractors'));
        writeFileSync(join(root, 'contractors', 'ops.yaml'), 'x: 1\n');
      },
      () => {
        mkdirSync(join(root, 'triggers'));
        writeFileSync(join(root, 'triggers', 't.yaml'), 'x: 1\n');
      },
      () => writeFileSync(join(root, 'config.yaml'), 'serve: {}\n'),
    ];
    for (const [i, change] of changes.entries()) {
      change();
      expect(await memo.snapshot().get('k', c.load), `change ${i}`).toBe(i + 2);
    }
  });

  it('keeps nothing while a file changed less than RACY_MS ago (a second write within the same tick of the file clock would not be seen)', async () => {
    const root = newRoot();
    writeFileSync(join(root, 'workflows', 'wf.yaml'), workflow('"true"'));
    const justNow = new DefinitionsMemo(root);
    const c = counting();
    await justNow.snapshot().get('k', c.load);
    await justNow.snapshot().get('k', c.load);
    expect(c.calls()).toBe(2);
    // The same files, RACY_MS later: kept.
    let clock = Date.now() + RACY_MS + 1000;
    const later = new DefinitionsMemo(root, { now: () => clock });
    const d = counting();
    await later.snapshot().get('k', d.load);
    await later.snapshot().get('k', d.load);
    expect(d.calls()).toBe(1);
    // An edit: loaded anew at each use until it is RACY_MS old.
    writeFileSync(join(root, 'workflows', 'wf.yaml'), workflow('"echo"'));
    clock = Date.now();
    await later.snapshot().get('k', d.load);
    await later.snapshot().get('k', d.load);
    expect(d.calls()).toBe(3);
    clock = Date.now() + RACY_MS + 1000;
    await later.snapshot().get('k', d.load);
    await later.snapshot().get('k', d.load);
    expect(d.calls()).toBe(4);
  });

  it('does not keep a failed load', async () => {
    const memo = settled(newRoot());
    let n = 0;
    const load = async () => {
      n++;
      if (n === 1) throw new Error('EMFILE');
      return n;
    };
    await expect(memo.snapshot().get('k', load)).rejects.toThrow('EMFILE');
    expect(await memo.snapshot().get('k', load)).toBe(2);
  });
});

describe('loadDefinitions with a memo (serve)', () => {
  const ctxFor = (root: string): RootContext => ({ root: { dir: root, source: 'flag', isReadOnlyPackage: false }, env: {}, cwd: root, definitions: settled(root) });

  it('gives each caller its own copy of the definition and the config', async () => {
    const root = newRoot();
    writeFileSync(join(root, 'workflows', 'wf.yaml'), workflow('"true"'));
    const ctx = ctxFor(root);
    const first = await loadDefinitions(ctx, 'wf');
    (first.loaded.definition.phases[0] as { phase_id: string }).phase_id = 'changed-by-a-caller';
    (first.config as { serve: Record<string, unknown> }).serve.listen = 'changed';
    const again = await loadDefinitions(ctx, 'wf');
    expect(again.loaded.definition.phases[0]?.phase_id).toBe('p');
    expect(again.config.serve.listen).toBeUndefined();
  });

  it('sees an edited definition, an invalid one and a removed one at once', async () => {
    const root = newRoot();
    const file = join(root, 'workflows', 'wf.yaml');
    writeFileSync(file, workflow('"true"'));
    const ctx = ctxFor(root);
    expect((await loadDefinitions(ctx, 'wf')).loaded.definition.phases[0]?.actions[0]?.parameters).toEqual({ command: ['true'] });
    writeFileSync(file, workflow('"false"'));
    expect((await loadDefinitions(ctx, 'wf')).loaded.definition.phases[0]?.actions[0]?.parameters).toEqual({ command: ['false'] });
    writeFileSync(file, workflow('"false"').replace('phase_id: p', 'phase_id: P!'));
    await expect(loadDefinitions(ctx, 'wf')).rejects.toThrow(/not a valid workflow definition/);
    rmSync(file);
    await expect(loadDefinitions(ctx, 'wf')).rejects.toThrow(/no workflow "wf"/);
  });
});
