/**
 * Secrets never leak (issue 12): not at a cut of long output, not through a tool's environment,
 * not when the workflow never names them, not through ${env.CORTEX_SECRET_*}.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cortex, listFiles, removeRoot, tempRoot } from './helpers.js';

const roots: string[] = [];
afterAll(() => roots.forEach(removeRoot));

/** Every file cortex wrote under the root (not the definitions, not secrets/) and the command's output, as one text. */
function everything(r: string, ...outputs: string[]): string {
  const written = listFiles(r).filter((f) => !f.startsWith('secrets/') && !f.startsWith('workflows/') || /^workflows\/(active|history|metrics)\//.test(f));
  return [...written.map((f) => readFileSync(join(r, f), 'utf8')), ...outputs].join('\n');
}

/** The longest piece (3+ characters) of `secret` found in `text`. */
function longestPiece(text: string, secret: string): string {
  for (let n = secret.length; n >= 3; n--) {
    for (let i = 0; i + n <= secret.length; i++) if (text.includes(secret.slice(i, i + n))) return secret.slice(i, i + n);
  }
  return '';
}

describe('secrets', () => {
  it('a secret cut at the boundary of the kept output leaves no piece in the record, debug.log or outputs', async () => {
    const SECRET = 'Zq8xK7pWm4Tz9RvQ2jLb7';
    const r = tempRoot({
      'workflows/cut.yaml': `workflow_id: cut
workflow_name: cut
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      # The secret, then 2028 bytes: the 2 KiB tail kept in the record starts inside the secret.
      - { action_id: small, action: execute_command, parameters: { command: [sh, -c, "printf %s \\"$0\\"; head -c 2028 /dev/zero | tr '\\\\0' b", "\${secrets.MYTOKEN}"] } }
      # The same at the 64 KiB of outputs.stdout.
      - { action_id: large, action: execute_command, parameters: { command: [sh, -c, "printf %s \\"$0\\"; head -c 65530 /dev/zero | tr '\\\\0' b", "\${secrets.MYTOKEN}"] } }
`,
    });
    roots.push(r);
    const res = await cortex(['run', 'cut', '--debug'], { root: r, env: { CORTEX_SECRET_MYTOKEN: SECRET } });
    expect(res.exitCode, res.stderr).toBe(0);
    expect(longestPiece(everything(r, res.stdout, res.stderr), SECRET)).toBe('');
  });

  it('tools get no CORTEX_SECRET_* variable, and a secret the workflow never names is masked when a tool prints it', async () => {
    const OTHER = 'other-secret-value-8812';
    const UNUSED = 'unused-file-secret-3391';
    const r = tempRoot({
      'workflows/env.yaml': `workflow_id: env
workflow_name: env
version: 1.0.0
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: dump, action: execute_command, parameters: { command: [env] } }
      - { action_id: leak-file, action: execute_command, parameters: { command: [cat, "\${env.CORTEX_HOME}/secrets/UNUSED"] } }
      - { action_id: leak-env, action: execute_command, parameters: { command: [sh, -c, "echo $0", "\${env.SEEN_OTHER}"] } }
`,
    });
    roots.push(r);
    mkdirSync(join(r, 'secrets'));
    writeFileSync(join(r, 'secrets', 'UNUSED'), UNUSED);
    chmodSync(join(r, 'secrets', 'UNUSED'), 0o600);
    const res = await cortex(['run', 'env', '--debug'], { root: r, env: { CORTEX_SECRET_OTHERSECRET: OTHER, CORTEX_HOME: r, SEEN_OTHER: OTHER } });
    expect(res.exitCode, res.stderr).toBe(0);
    const all = everything(r, res.stdout, res.stderr);
    expect(all).not.toContain('CORTEX_SECRET_OTHERSECRET');
    expect(all).not.toContain(OTHER);
    expect(all).not.toContain(UNUSED);
    expect(all).toContain('***');
  });

  it('${env.CORTEX_SECRET_*} is refused in definitions and triggers (validate, run, trigger --dry-run)', async () => {
    const r = tempRoot({
      'workflows/sneaky.yaml': `workflow_id: sneaky
workflow_name: sneaky
version: 1.0.0
parameters:
  who: { type: string, default: nobody }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: say, action: execute_command, parameters: { command: [echo, "\${env.CORTEX_SECRET_TOKEN}"] } }
`,
      'triggers/sneaky.yaml': `workflow_id: sneaky
triggers:
  - { type: webhook, id: hook, path: sneaky, parameters: { who: "\${env.CORTEX_SECRET_TOKEN}" } }
`,
    });
    roots.push(r);
    const env = { CORTEX_SECRET_TOKEN: 'the-token-value-5521' };
    const v = await cortex(['validate'], { root: r, env });
    expect(v.exitCode).toBe(2);
    expect(v.stderr + v.stdout).toMatch(/would read a secret in clear: use \$\{secrets\.TOKEN\}/);
    const dry = await cortex(['trigger', '--source', 'generic', '--path', 'sneaky', '--event', '-', '--dry-run'], { root: r, env, input: '{}' });
    expect(dry.stdout + dry.stderr).not.toContain('the-token-value-5521');
  });
});
