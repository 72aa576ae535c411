import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT, cortex, listFiles, removeRoot, tempRoot } from './helpers.js';
import { itWithShared, referencePath } from '../helpers/shared.js';

const good = (id: string, extra = '') => `{
  "workflow_id": "${id}",
  "workflow_name": "Good",
  "version": "1.0.0",
  "parameters": { "replicas": { "type": "integer", "default": 2 } },
  "phases": [
    { "phase_id": "p1", "contractor": "infrastructure-contractor",
      "actions": [ { "action_id": "a1", "action": "execute_command", "parameters": { "command": ["true"] } } ] }
  ]${extra}
}
`;

const roots: string[] = [];
function root(files: Record<string, string>): string {
  const r = tempRoot(files);
  roots.push(r);
  return r;
}
afterAll(() => roots.forEach(removeRoot));

/** Each bad input: exit 2, a message naming the file and the place, no stack trace, nothing written. */
async function expectRejected(r: string, args: string[], ...fragments: RegExp[]) {
  const before = listFiles(r);
  const res = await cortex(args, { root: r });
  expect(res.exitCode, `${res.stdout}\n${res.stderr}`).toBe(2);
  const text = `${res.stdout}\n${res.stderr}`;
  for (const f of fragments) expect(text).toMatch(f);
  expect(text).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
  expect(listFiles(r)).toEqual(before);
  return text;
}

describe('validate: bad input', () => {
  it('malformed JSON: file, line and column', async () => {
    const r = root({ 'workflows/bad.json': '{\n  "workflow_id": "bad",\n  "phases": [,]\n}\n' });
    await expectRejected(r, ['validate'], /workflows\/bad\.json:3:\d+/, /malformed JSON/);
  });

  it('malformed YAML: file, line and column', async () => {
    const r = root({ 'workflows/bad.yaml': 'workflow_id: bad\nphases:\n  - phase_id: [unclosed\n' });
    await expectRejected(r, ['validate'], /workflows\/bad\.yaml:\d+:\d+/, /malformed YAML/);
  });

  it('schema violation: pointer, line and what was expected', async () => {
    const r = root({ 'workflows/s.json': good('s').replace('"parameters": { "command": ["true"] }', '"parameters": { "command": ["true"] }, "on_error": "explode"') });
    await expectRejected(r, ['validate'], /workflows\/s\.json:\d+:\d+: \/phases\/0\/actions\/0\/on_error: expected one of "fail_workflow"/);
  });

  it('unknown action, with a suggestion', async () => {
    const r = root({ 'workflows/u.json': good('u').replace('"execute_command"', '"provision_vms"') });
    await expectRejected(r, ['validate'], /\/phases\/0\/actions\/0\/action: unknown action "provision_vms" for infrastructure-contractor \(did you mean "provision_vm"\?\)/);
  });

  it('unresolvable reference', async () => {
    const r = root({ 'workflows/r.json': good('r').replace('["true"]', '["echo", "${parameters.replica}"]') });
    await expectRejected(r, ['validate'], /\/phases\/0\/actions\/0\/parameters\/command\/1: unknown parameter "replica"/);
  });

  it('a reference to a later action', async () => {
    const r = root({ 'workflows/l.json': good('l').replace('["true"]', '["echo", "${a1.output.stdout}"]') });
    await expectRejected(r, ['validate'], /has not run at this point/);
  });

  it('bad condition syntax', async () => {
    const r = root({ 'workflows/c.json': good('c').replace('"contractor": "infrastructure-contractor",', '"contractor": "infrastructure-contractor", "condition": "${parameters.replicas} == == 2",') });
    await expectRejected(r, ['validate'], /bad condition/);
  });

  it('a default that does not match its type', async () => {
    const r = root({ 'workflows/d.json': good('d').replace('"default": 2', '"default": "two"') });
    await expectRejected(r, ['validate'], /\/parameters\/replicas\/default/);
  });

  it('__proto__ and constructor keys', async () => {
    const r = root({ 'workflows/p.json': good('p').replace('"version": "1.0.0",', '"version": "1.0.0", "__proto__": { "polluted": true },') });
    await expectRejected(r, ['validate'], /workflows\/p\.json.*"__proto__" is not allowed/);
    const y = root({ 'workflows/p.yaml': 'workflow_id: p\nconstructor: { prototype: 1 }\n' });
    await expectRejected(y, ['validate'], /workflows\/p\.yaml:2:1.*"constructor" is not allowed/);
  });

  it('nesting 10,000 deep', async () => {
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const r = root({ 'workflows/deep.json': `{"workflow_id": "deep", "x": ${deep}}`, 'workflows/deep2.yaml': `x: ${deep}\n` });
    await expectRejected(r, ['validate'], /deep\.json:1:\d+: nesting deeper than 100/, /deep2\.yaml.*(nesting|deep)/);
  });

  it('a 20 MB file', async () => {
    const r = root({});
    writeFileSync(join(r, 'workflows', 'huge.json'), `{"workflow_id":"huge","pad":"${'x'.repeat(20 * 1024 * 1024)}"}`);
    await expectRejected(r, ['validate'], /huge\.json: file is 20\.0 MB; the limit is 5 MB/);
  });

  it('two definitions with the same workflow_id name both files', async () => {
    const r = root({ 'workflows/a.json': good('same'), 'workflows/b.json': good('same') });
    await expectRejected(r, ['validate'], /workflows\/a\.json.*also defined in workflows\/b\.json/, /workflows\/b\.json.*also defined in workflows\/a\.json/);
  });

  it('a path-like workflow id is refused for every command', async () => {
    const r = root({ 'workflows/ok.json': good('ok') });
    for (const args of [['show', '../../etc/passwd'], ['run', '../../etc/passwd'], ['validate', '../../etc/passwd'], ['history', '../x']]) {
      await expectRejected(r, args, /not a workflow id|expected a \.json, \.yaml or \.yml file|cannot read/);
    }
  });

  itWithShared('the upstream reference templates are valid', async () => {
    const r = root({});
    const res = await cortex(['validate', referencePath('deployment-workflow.json'), referencePath('incident-response-workflow.json')], { root: r });
    expect(res.exitCode, res.stderr).toBe(0);
  });

  it('--verbose adds the stack trace a developer wants', async () => {
    const r = root({ 'workflows/ok.json': good('ok') });
    const res = await cortex(['--verbose', 'show', 'missing-one'], { root: r });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/CORTEX_NOT_FOUND: no workflow "missing-one"/);
    expect(res.stderr).toMatch(/\n\s+at /);
  });
});

describe('run: bad parameters', () => {
  it('wrong parameter types: one message listing every problem, exit 2, nothing written', async () => {
    const r = root({ 'workflows/ok.json': good('ok').replace('"default": 2 }', '"default": 2 }, "env": { "type": "string", "enum": ["dev", "prod"], "required": true }') });
    const text = await expectRejected(r, ['run', 'ok', '-p', 'replicas=two', '-p', 'nope=1'], /invalid parameters for workflow "ok"/);
    expect(text).toMatch(/\/replicas: expected integer/);
    expect(text).toMatch(/unknown parameter "nope"/);
    expect(text).toMatch(/\/env: missing required parameter/);
  });

  it('a malformed -p is a usage error', async () => {
    const r = root({ 'workflows/ok.json': good('ok') });
    await expectRejected(r, ['run', 'ok', '-p', 'novalue'], /novalue/);
  });

  it('an unknown option is a usage error (exit 2)', async () => {
    const r = root({ 'workflows/ok.json': good('ok') });
    await expectRejected(r, ['run', 'ok', '--frobnicate'], /unknown option/);
  });
});

describe('usage errors under --json', () => {
  interface ErrorBody {
    error: { code: string; message: string; exit_code: number; hint?: string };
  }
  /** Exit 2, nothing on stdout, one JSON object on stderr. */
  async function jsonUsageError(args: string[]): Promise<ErrorBody['error']> {
    const r = root({ 'workflows/ok.json': good('ok') });
    const res = await cortex(args, { root: r });
    expect(res.exitCode, res.stderr).toBe(2);
    expect(res.stdout).toBe('');
    const body = JSON.parse(res.stderr) as ErrorBody;
    expect(body.error).toMatchObject({ code: 'CORTEX_USAGE', exit_code: 2 });
    return body.error;
  }

  it('an unknown command, a missing argument, an unknown option: a JSON error, the suggestion as its hint', async () => {
    expect(await jsonUsageError(['bogus', '--json'])).toEqual({ code: 'CORTEX_USAGE', message: "unknown command 'bogus'", exit_code: 2, hint: expect.stringMatching(/^Did you mean /) });
    // run takes a workflow id or --plan FILE: the missing one is named by cortex, still as a usage error.
    expect(await jsonUsageError(['run', '--json'])).toMatchObject({ code: 'CORTEX_USAGE', exit_code: 2, message: expect.stringMatching(/workflow id/) });
    expect((await jsonUsageError(['--json', 'run', 'ok', '--frobnicate'])).message).toBe("unknown option '--frobnicate'");
  });

  it('without --json the usage error stays text', async () => {
    const res = await cortex(['bogus'], { root: root({}) });
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toMatch(/^error: unknown command 'bogus'/);
  });

  it('--version --json (either order) prints the version as JSON; --version alone as text', async () => {
    const { version } = JSON.parse(readFileSync(join(PROJECT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version', '--json'], ['--json', '--version'], ['-V', '--json']]) {
      const res = await cortex(args);
      expect(res.exitCode, args.join(' ')).toBe(0);
      expect(JSON.parse(res.stdout), args.join(' ')).toMatchObject({ version, node: process.version });
    }
    expect((await cortex(['--version'])).stdout.trim()).toMatch(new RegExp(`^cortex ${version.replace(/\./g, '\\.')} \\(commit `));
  });
});
