import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimLabDir, isLabDir, placeRefusal } from '../../../src/lab/lab-guard.js';
import { UsageError } from '../../../src/errors.js';

describe('placeRefusal', () => {
  it('refuses /, the root, its ancestors and its own folders; accepts <root>/lab and places elsewhere', () => {
    expect(placeRefusal('/', '/srv/ops/coordination')).toBe('it is the file system root');
    expect(placeRefusal('/srv/ops/coordination', '/srv/ops/coordination')).toBe('it is the coordination directory');
    expect(placeRefusal('/srv', '/srv/ops/coordination')).toBe('it contains the coordination directory /srv/ops/coordination');
    expect(placeRefusal('/srv/ops/coordination/state', '/srv/ops/coordination')).toMatch(/state\//);
    expect(placeRefusal('/srv/ops/coordination/workflows/history/x', '/srv/ops/coordination')).toMatch(/workflows\//);
    expect(placeRefusal('/srv/ops/coordination/lab', '/srv/ops/coordination')).toBeUndefined();
    expect(placeRefusal('/srv/ops/coordination-lab', '/srv/ops/coordination')).toBeUndefined();
    expect(placeRefusal('/tmp/lab', '/srv/ops/coordination')).toBeUndefined();
  });
});

describe('claimLabDir', () => {
  const made: string[] = [];
  afterEach(() => made.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const temp = () => {
    const d = mkdtempSync(join(tmpdir(), 'cortex-lab-guard-'));
    made.push(d);
    return d;
  };

  it('adopts a lab made before the marker existed (only lab files, with its signature) and marks it', () => {
    const root = temp();
    const lab = join(root, 'old-lab');
    for (const f of ['config.json', 'state/pve.json', 'bin/pvesh', 'requests.jsonl']) {
      mkdirSync(join(lab, f, '..'), { recursive: true });
      writeFileSync(join(lab, f), '{}');
    }
    expect(isLabDir(lab)).toBe(true);
    claimLabDir(lab, join(root, 'coordination'));
    expect(existsSync(join(lab, '.cortex-lab'))).toBe(true);
  });

  it('does not adopt a directory that has the signature and anything else', () => {
    const root = temp();
    const dir = join(root, 'project');
    for (const f of ['config.json', 'state/pve.json', 'bin/pvesh', 'README.md']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), '{}');
    }
    expect(isLabDir(dir)).toBe(false);
    expect(() => claimLabDir(dir, join(root, 'coordination'))).toThrow(UsageError);
    expect(existsSync(join(dir, '.cortex-lab'))).toBe(false);
  });
});
