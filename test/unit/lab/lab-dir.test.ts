import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shouldFail, writeLabConfig } from '../../../src/lab/lab-dir.js';

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
