/**
 * Input that becomes an action, and input that must be refused with one message (issue 12,
 * cases 9, 10 and 12).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cortex, readJson, removeRoot, tempRoot } from './helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

function root(files: Record<string, string>): string {
  const r = tempRoot(files);
  roots.push(r);
  return r;
}

interface Rec {
  phases: Array<{ actions: Array<{ outputs?: Record<string, unknown>; attempts: Array<{ invocations?: Array<{ command: string[] }> }> }> }>;
}

function onlyRecord(r: string): Rec {
  const dir = join(r, 'workflows', 'history');
  const [name] = readdirSync(dir).filter((n) => n.endsWith('.json'));
  return readJson<Rec>(join(dir, name as string));
}

describe('the string form of execute_command', () => {
  it('keeps each ${…} one argument, whatever the value holds', async () => {
    const r = root({
      'workflows/split.yaml': `workflow_id: split
workflow_name: split
version: 1.0.0
parameters:
  x: { type: string, required: true }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: "printf %s| \${parameters.x}" } }
`,
    });
    const res = await cortex(['run', 'split', '-p', 'x=a --b "c d" -A'], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
    const action = onlyRecord(r).phases[0]?.actions[0];
    expect(action?.attempts[0]?.invocations?.[0]?.command).toEqual(['printf', '%s|', 'a --b "c d" -A']);
    expect(action?.outputs?.stdout).toBe('a --b "c d" -A|');
  });

  it('a string command that would need a shell is refused when the definition is validated', async () => {
    const r = root({
      'workflows/pipe.yaml': `workflow_id: pipe
workflow_name: pipe
version: 1.0.0
parameters:
  f: { type: string, default: x }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: "cat \${parameters.f} | grep y" } }
`,
    });
    const res = await cortex(['validate', 'pipe'], { root: r });
    expect(res.exitCode).toBe(2);
    expect(res.stdout + res.stderr).toMatch(/\/phases\/0\/actions\/0\/parameters\/command.*cannot split the command into arguments: "\|" is a shell feature/);
  });
});
