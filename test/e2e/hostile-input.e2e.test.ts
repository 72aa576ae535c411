/**
 * Input that becomes an action, and input that must be refused with one message (issue 12,
 * cases 9, 10 and 12).
 */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** exit 2, a first line CODE: message, at most a hint after it, no stack trace. */
function expectOneMessage(res: { exitCode?: number; stderr: string }, first: RegExp, exitCode = 2): void {
  expect(res.exitCode, res.stderr).toBe(exitCode);
  const lines = res.stderr.trim().split('\n');
  expect(lines[0]).toMatch(first);
  expect(lines.slice(1).every((l) => l.startsWith('hint: ') || l.startsWith('  '))).toBe(true);
  expect(res.stderr).not.toMatch(/^\s+at |please report/m);
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

const PARAMS = `workflow_id: params
workflow_name: params
version: 1.0.0
parameters:
  x: { type: string, default: "" }
  obj: { type: object, default: {} }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, "\${parameters.x}"] } }
triggers:
  - { type: prometheus_alert, id: any, alert_name: HighMemoryUsage }
`;

describe('input refused with exit 2 and one message, no stack trace', () => {
  it('an event nested 50 000 deep', async () => {
    const r = root({ 'workflows/params.yaml': PARAMS });
    const deep = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    const event = `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"HighMemoryUsage","deep":${deep}},"annotations":{},"startsAt":"2026-11-25T18:52:27Z","fingerprint":"x"}]}`;
    const res = await cortex(['trigger', '--source', 'alertmanager', '--event', '-'], { root: r, input: event });
    expectOneMessage(res, /^CORTEX_EVENT_INVALID: the event nests deeper than 100 levels$/);
  });

  it('a NUL byte or a lone surrogate in a parameter: -p and a params file', async () => {
    const r = root({ 'workflows/params.yaml': PARAMS });
    const dir = mkdtempSync(join(tmpdir(), 'cortex-params-'));
    roots.push(dir);
    writeFileSync(join(dir, 'nul.json'), JSON.stringify({ x: 'a\u0000b' }));
    writeFileSync(join(dir, 'surrogate.json'), '{"x": "a\\ud800b"}');
    const cases: Array<[string[], RegExp]> = [
      [['--params-file', join(dir, 'nul.json')], /nul\.json: \/x: the value contains a NUL byte/],
      [['--params-file', join(dir, 'surrogate.json')], /surrogate\.json: \/x: the value contains a lone UTF-16 surrogate/],
      [['-p', 'obj={"a":"x\\u0000y"}'], /\/obj\/a: the value contains a NUL byte/],
      [['-p', 'obj={"k\\udc00":"v"}'], /\/obj\/k.: the key contains a lone UTF-16 surrogate/],
      // 5 000 levels: an argument longer than 128 KiB is refused by the kernel before cortex starts.
      [['-p', `obj=${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`], /\/obj: expected object: nesting deeper than 100 levels/],
    ];
    for (const [args, why] of cases) {
      const res = await cortex(['run', 'params', ...args], { root: r });
      expectOneMessage(res, /^CORTEX_PARAMETERS_INVALID: invalid parameters for workflow "params":$/);
      expect(res.stderr).toMatch(why);
    }
    expect(readdirSync(join(r, 'workflows'))).toEqual(['params.yaml']);
  });

  it('a --root or --lab that is a file; status and history with a --root that does not exist', async () => {
    const r = root({ 'workflows/params.yaml': PARAMS });
    const file = join(r, 'params-file.txt');
    writeFileSync(file, 'x');
    for (const args of [['status'], ['history'], ['run', 'params'], ['trigger', '--source', 'falco', '--event', '-']]) {
      expectOneMessage(await cortex(args, { root: file, input: '{}' }), /^CORTEX_USAGE: coordination directory .* is not a directory$/);
    }
    for (const args of [['status'], ['history'], ['logs', 'params-20260101T000000Z-abcd']]) {
      expectOneMessage(await cortex(args, { root: join(r, 'nowhere') }), /^CORTEX_USAGE: coordination directory .*nowhere does not exist$/);
    }
    expectOneMessage(await cortex(['run', 'params', '--simulate', '--lab', file], { root: r }), /^CORTEX_USAGE: refusing to use .* as the lab: it is not a directory$/);
    expectOneMessage(await cortex(['lab', 'show', '--lab', file], { root: r }), /^CORTEX_USAGE: lab .* is not a directory$/);
    expectOneMessage(await cortex(['init', file]), /^CORTEX_USAGE: .* is not a directory$/);
  });

  it('duplicate keys in a JSON definition, as YAML refuses them', async () => {
    const r = root({
      'workflows/dup.json': `{
  "workflow_id": "dup",
  "workflow_name": "dup",
  "version": "1.0.0",
  "phases": [
    { "phase_id": "p", "contractor": "infrastructure-contractor",
      "actions": [ { "action_id": "a", "action": "execute_command", "parameters": { "command": ["true"], "command": ["rm", "-rf", "/tmp/x"] } } ] }
  ]
}
`,
    });
    const res = await cortex(['validate'], { root: r });
    expect(res.exitCode).toBe(2);
    expect(res.stdout + res.stderr).toMatch(/workflows\/dup\.json:7:\d+: duplicate key "command" in one object/);
    expect(res.stdout + res.stderr).not.toMatch(/^\s+at /m);
    expectOneMessage(await cortex(['run', 'dup'], { root: r }), /^CORTEX_NOT_FOUND: no workflow "dup"/);
  });
});
