import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { complete, completionScript } from '../../../src/cli/completion.js';
import { buildProgram, type CliIO } from '../../../src/cli/program.js';

const root = mkdtempSync(join(tmpdir(), 'cortex-complete-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'workflows', 'active'), { recursive: true });
mkdirSync(join(root, 'workflows', 'history'), { recursive: true });
mkdirSync(join(root, 'workflows', 'templates'), { recursive: true });
writeFileSync(join(root, 'workflows', 'deploy.yaml'), 'workflow_id: app-deployment\nworkflow_name: x\n');
writeFileSync(join(root, 'workflows', 'upgrade.json'), '{ "workflow_name": "y", "workflow_id": "talos-upgrade" }');
writeFileSync(join(root, 'workflows', 'templates', 't.yaml'), "workflow_id: 'app-template'\n");
writeFileSync(join(root, 'workflows', 'active', 'workflow-app-deployment-20261125T191154Z-1a2b.json'), '{}');
writeFileSync(join(root, 'workflows', 'history', 'workflow-talos-upgrade-20261124T080000Z-9f9f.json'), '{}');

const io = { argv: [], env: {}, cwd: root, home: root, stdout: process.stdout, stderr: process.stderr } as unknown as CliIO;
const program = buildProgram(io, async () => undefined);
const tab = (...words: string[]) => complete(program, words, { env: {}, cwd: '/', home: '/nonexistent' });

describe('complete (cortex __complete, what Tab offers)', () => {
  it('commands, by prefix', async () => {
    expect(await tab('')).toEqual(expect.arrayContaining(['run', 'status', 'logs', 'history', 'completion', 'version']));
    expect(await tab('st')).toEqual(['status']);
    expect(await tab('--json', 're')).toEqual(['reject', 'resume']);
    expect(await tab('nosuch', '')).toEqual([]);
  });

  it("the flags of the command typed and the global ones; an option's choices", async () => {
    const flags = await tab('logs', 'x', '-');
    expect(flags).toEqual(expect.arrayContaining(['-f', '--follow', '--contractor', '--debug', '--root', '--json', '--help']));
    expect(flags).not.toContain('--watch');
    expect(await tab('status', '--w')).toEqual(['--watch']);
    expect(await tab('history', '-o', '')).toEqual(['json', 'name', 'table', 'wide', 'yaml']);
    expect(await tab('completion', '')).toEqual(['bash', 'fish', 'zsh']);
    expect(await tab('logs', 'x', '--contractor', 't')).toEqual(['talos-contractor']);
  });

  it('workflow ids and execution ids of the root named by --root (templates included)', async () => {
    expect(await tab('--root', root, 'run', '')).toEqual(['app-deployment', 'app-template', 'talos-upgrade']);
    expect(await tab(`--root=${root}`, 'plan', 'ta')).toEqual(['talos-upgrade']);
    expect(await tab('--root', root, 'history', '--workflow', 'app-d')).toEqual(['app-deployment']);
    expect(await tab('--root', root, 'logs', '')).toEqual(['app-deployment-20261125T191154Z-1a2b', 'talos-upgrade-20261124T080000Z-9f9f']);
    expect(await tab('--root', root, 'status', '-w', 'app')).toEqual(['app-deployment-20261125T191154Z-1a2b']);
    // A value being typed for an option that takes one is not a positional argument.
    expect(await tab('--root', root, 'approve', '--comment', 'x', 'tal')).toEqual(['talos-upgrade-20261124T080000Z-9f9f']);
    // Past the last argument, or for an option's free value: nothing (the shell offers files).
    expect(await tab('--root', root, 'logs', 'a', '')).toEqual([]);
    expect(await tab('--root', root, 'plan', 'app-deployment', '--out', '')).toEqual([]);
  });

  it('writes a script for bash, zsh and fish that calls cortex __complete', () => {
    for (const shell of ['bash', 'zsh', 'fish'] as const) expect(completionScript(shell)).toContain('cortex __complete');
  });
});
