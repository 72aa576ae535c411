/**
 * What the read-only commands load (issue 14, the status row): `cortex status` must not load the
 * engine, ajv, yaml, the queue client or execa. A module hook records every module the CLI
 * resolves; a regression (status-watch importing app/drive.js pulled in the whole engine and
 * made status 2.4x `node -e 0` instead of 1.6x) shows as a name in the list, not as a timing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI, cleanEnv, tempRoot, removeRoot } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'cortex-modules-'));
const roots: string[] = [];
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  roots.forEach(removeRoot);
});
writeFileSync(
  join(dir, 'hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.CORTEX_TEST_MODULE_LOG, r.url + '\\n');
  return r;
}
`,
);
writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);

async function modulesOf(args: string[]): Promise<string[]> {
  const log = join(dir, `modules-${args.join('_').replace(/\W/g, '')}.log`);
  writeFileSync(log, '');
  const res = await execa('node', ['--import', pathToFileURL(join(dir, 'register.mjs')).href, CLI, ...args], {
    env: cleanEnv({ CORTEX_TEST_MODULE_LOG: log }),
    extendEnv: false,
    reject: false,
  });
  expect(res.exitCode, res.stderr).toBe(0);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const HEAVY = [/\/node_modules\/(ajv|yaml|bullmq|ioredis|execa|ora)\//, /\/dist\/engine\/run-workflow\.js$/, /\/dist\/app\/drive\.js$/, /\/dist\/definitions\//];

describe('startup: what the read-only commands load', () => {
  it('cortex status (empty root, and --json) loads neither the engine nor ajv, yaml, the queue or execa', async () => {
    const root = tempRoot({});
    roots.push(root);
    for (const args of [['--root', root, 'status'], ['--root', root, 'status', '--json']]) {
      const loaded = await modulesOf(args);
      expect(loaded.some((u) => u.endsWith('/dist/cli/commands/status.js')), 'the hook saw the status command').toBe(true);
      expect(loaded.filter((u) => HEAVY.some((h) => h.test(u))), args.join(' ')).toEqual([]);
    }
  });

  it('cortex status in its plain forms starts without commander or node:crypto (src/cli/fast-status.ts)', async () => {
    const root = tempRoot({});
    roots.push(root);
    for (const args of [['--root', root, 'status'], ['--root', root, 'status', '-o', 'wide', '--no-color']]) {
      const loaded = await modulesOf(args);
      expect(loaded.some((u) => u.endsWith('/dist/cli/commands/status.js')), 'the hook saw the status command').toBe(true);
      expect(loaded.filter((u) => /\/node_modules\/commander\/|\/dist\/cli\/program\.js$|^node:crypto$/.test(u)), args.join(' ')).toEqual([]);
    }
    // Anything else still goes through the program (here: status --help).
    const help = await modulesOf(['--root', root, 'status', '--help']);
    expect(help.some((u) => /\/node_modules\/commander\//.test(u))).toBe(true);
  });

  it('cortex --version loads no command module', async () => {
    const loaded = await modulesOf(['--version']);
    expect(loaded.filter((u) => /\/dist\/cli\/commands\//.test(u) || HEAVY.some((h) => h.test(u)))).toEqual([]);
  });
});
