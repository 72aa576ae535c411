import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replaceLabFile, shouldFail, writeLabConfig } from '../../../src/lab/lab-dir.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function labWith(faults: Array<{ action_id: string; attempts: number | null }>): string {
  const lab = mkdtempSync(join(tmpdir(), 'cortex-labdir-'));
  dirs.push(lab);
  writeLabConfig(lab, { latency: 1, faults });
  return lab;
}

describe('shouldFail (--simulate-fail)', () => {
  it('fails the named action, for its first n attempts or all of them', () => {
    const lab = labWith([
      { action_id: 'install', attempts: 1 },
      { action_id: 'notify', attempts: null },
    ]);
    expect(shouldFail(lab, 'install', 1)).toBe(true);
    expect(shouldFail(lab, 'install', 2)).toBe(false);
    expect(shouldFail(lab, 'notify', 5)).toBe(true);
    expect(shouldFail(lab, 'other', 1)).toBe(false);
    expect(shouldFail(lab, undefined, 1)).toBe(false);
  });

  it('fails the steps of a plan the named action runs (ACTION_ID/STEP_ID), not actions that merely share a prefix', () => {
    const lab = labWith([{ action_id: 'coordinate-remediation', attempts: null }]);
    expect(shouldFail(lab, 'coordinate-remediation/destroy-compromised', 1)).toBe(true);
    expect(shouldFail(lab, 'coordinate-remediation-2', 1)).toBe(false);
    expect(shouldFail(lab, 'coordinate', 1)).toBe(false);
  });
});

describe('replaceLabFile (shims, kubeconfig, services.json another rehearsal may be using)', () => {
  it('leaves an unchanged file alone, and replaces a changed one by a rename: a reader holding the old one reads it whole', () => {
    const lab = mkdtempSync(join(tmpdir(), 'cortex-labdir-'));
    dirs.push(lab);
    const shim = join(lab, 'bin', 'pvesh');
    const v1 = '#!/bin/sh\nexec node /a/pvesh.cjs "$@"\n';
    replaceLabFile(lab, shim, v1, 0o700);
    const first = statSync(shim);
    expect(first.mode & 0o777).toBe(0o700);
    replaceLabFile(lab, shim, v1, 0o700);
    expect(statSync(shim).ino).toBe(first.ino);
    expect(statSync(shim).mtimeMs).toBe(first.mtimeMs);
    // A rehearsal running the old shim has it open: a new version never shows it empty or torn.
    const fd = openSync(shim, 'r');
    try {
      replaceLabFile(lab, shim, '#!/bin/sh\nexec node /b/pvesh.cjs "$@"\n', 0o700);
      expect(readFileSync(fd, 'utf8')).toBe(v1);
    } finally {
      closeSync(fd);
    }
    expect(statSync(shim).ino).not.toBe(first.ino);
    expect(readFileSync(shim, 'utf8')).toContain('/b/pvesh.cjs');
    // Same content, other mode: replaced with the mode asked for.
    chmodSync(shim, 0o755);
    replaceLabFile(lab, shim, readFileSync(shim, 'utf8'), 0o700);
    expect(statSync(shim).mode & 0o777).toBe(0o700);
  });
});
