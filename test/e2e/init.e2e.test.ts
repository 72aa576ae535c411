/**
 * `cortex init` never overwrites a file and never brings back a built-in the operator removed,
 * with its live triggers, unless --force (issue 12, case 7).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT, cortex, removeRoot } from './helpers.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeRoot));
const FALCO = join(PROJECT, 'test', 'unit', 'triggers', 'fixtures', 'falco', 'critical.json');

function parent(): string {
  const d = mkdtempSync(join(tmpdir(), 'cortex-init-'));
  dirs.push(d);
  return d;
}

describe('cortex init', () => {
  it('run again, it recreates no removed built-in (nor its Falco trigger) and overwrites no edit; --force does both', async () => {
    const dir = join(parent(), 'coordination');
    const first = await cortex(['init', dir, '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    const incident = join(dir, 'workflows', 'security-incident-response.json');
    const deploy = join(dir, 'workflows', 'deploy-monitoring-stack.json');
    expect(existsSync(incident)).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, '.cortex-init.json'), 'utf8')).written).toContain('workflows/security-incident-response.json');

    rmSync(incident);
    const edited = readFileSync(deploy, 'utf8').replace('"description": "', '"description": "EDITED ');
    writeFileSync(deploy, edited);
    const again = await cortex(['init', dir]);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/nothing changed/);
    expect(again.stdout).toMatch(/not recreated .*workflows\/security-incident-response\.json/);
    expect(existsSync(incident)).toBe(false);
    expect(readFileSync(deploy, 'utf8')).toBe(edited);
    const falco = await cortex(['trigger', '--source', 'falco', '--event', FALCO, '--dry-run'], { root: dir });
    expect(falco.stdout).not.toMatch(/would start security-incident-response/);

    const forced = await cortex(['init', dir, '--force']);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(existsSync(incident)).toBe(true);
    expect(readFileSync(deploy, 'utf8')).not.toContain('EDITED');
    const falcoAgain = await cortex(['trigger', '--source', 'falco', '--event', FALCO, '--dry-run'], { root: dir });
    expect(falcoAgain.stdout).toMatch(/would start security-incident-response/);
  });

  it('an existing root that init never recorded gets no built-in added (it cannot tell removed from never wanted)', async () => {
    const dir = join(parent(), 'coordination');
    mkdirSync(join(dir, 'workflows'), { recursive: true });
    writeFileSync(join(dir, 'workflows', 'app-deployment.json'), '{"mine": true}\n');
    const res = await cortex(['init', dir, '--json']);
    expect(res.exitCode, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as { written: string[]; kept: string[]; not_restored: string[] };
    expect(out.written).toEqual([]);
    expect(out.kept).toEqual(['workflows/app-deployment.json']);
    expect(out.not_restored).toContain('workflows/security-incident-response.json');
    expect(existsSync(join(dir, 'workflows', 'security-incident-response.json'))).toBe(false);
    expect(readFileSync(join(dir, 'workflows', 'app-deployment.json'), 'utf8')).toBe('{"mine": true}\n');
  });
});
