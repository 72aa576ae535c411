/** The executable the lab writes for a stand-in: the module run by node with the tool's arguments as given. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { standinShim } from '../../../src/lab/start-lab.js';

const roots: string[] = [];
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('standinShim', () => {
  it("runs the module with every argument unchanged, from a path with spaces and quotes, without NODE_EXTRA_CA_CERTS (nor Node's warning about it)", async () => {
    const root = mkdtempSync(join(tmpdir(), 'cortex-shim-'));
    roots.push(root);
    const dir = join(root, `it's a "dir" $HOME`);
    mkdirSync(dir);
    const module = join(dir, 'tool-main.mjs');
    writeFileSync(module, 'process.stdout.write(JSON.stringify({ args: process.argv.slice(2), ca: process.env.NODE_EXTRA_CA_CERTS ?? null, other: process.env.KEPT ?? null }));\nprocess.exitCode = 3;\n');
    const shim = join(root, 'tool');
    writeFileSync(shim, standinShim(module));
    chmodSync(shim, 0o700);
    const args = ['get', '/nodes/pve-01', '--description', "it's $HOME `x` \"q\" *", '', 'a\nb'];
    const res = await execa(shim, args, { env: { NODE_EXTRA_CA_CERTS: join(root, 'missing.pem'), KEPT: 'yes' }, reject: false });
    expect(res.exitCode).toBe(3);
    expect(JSON.parse(res.stdout)).toEqual({ args, ca: null, other: 'yes' });
    expect(res.stderr).toBe('');
  });
});
