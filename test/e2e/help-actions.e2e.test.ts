import { describe, expect, it } from 'vitest';
import { cortex } from './helpers.js';

// What `cortex actions` and the subcommands' --help show.

describe('cortex actions', () => {
  it('lists each generic action once (contractor "*"), in the table and in --json', async () => {
    const table = await cortex(['actions']);
    expect(table.exitCode, table.stderr).toBe(0);
    const rows = table.stdout.split('\n').filter((l) => /^\* +\S+ +(tool|http|builtin)/.test(l));
    expect(rows.map((l) => l.split(/\s+/)[1]).sort()).toEqual(['execute_command', 'http_request', 'wait']);
    expect(table.stdout).toMatch(/^\* every contractor has these actions$/m);
    const keys = table.stdout.split('\n').slice(1, -2).map((l) => l.split(/\s+/).slice(0, 2).join('/')).filter((k) => /^\S+\/\S+$/.test(k));
    expect(new Set(keys).size).toBe(keys.length);
    const json = JSON.parse((await cortex(['actions', '--json'])).stdout) as { actions: Array<{ contractor: string; action: string }> };
    const ids = json.actions.map((a) => `${a.contractor}/${a.action}`);
    expect(ids.filter((i) => i === '*/execute_command')).toHaveLength(1);
    expect(new Set(ids).size).toBe(ids.length);
    // A contractor's own listing still has them.
    expect((await cortex(['actions', 'talos-contractor'])).stdout).toMatch(/^\* +execute_command/m);
  });
});

describe('subcommand --help', () => {
  it('lists the global options', async () => {
    for (const cmd of ['run', 'status', 'cancel']) {
      const help = await cortex([cmd, '--help']);
      expect(help.exitCode).toBe(0);
      const global = help.stdout.slice(help.stdout.indexOf('Global Options:'));
      expect(global, cmd).toMatch(/--root <dir>/);
      expect(global, cmd).toMatch(/--json/);
      expect(global, cmd).toMatch(/--no-color/);
      expect(global, cmd).toMatch(/--verbose/);
    }
  });

  it('cancel, reject and rollback offer only what their rollback uses, in those words', async () => {
    for (const cmd of ['cancel', 'reject', 'rollback']) {
      const help = (await cortex([cmd, '--help'])).stdout;
      const own = help.slice(0, help.indexOf('Global Options:'));
      expect(own, cmd).toMatch(/-p, --param <key=value> +give a secret parameter again: the rollback/);
      expect(own, cmd).toMatch(/--simulate-fail <step_id\[:n\]> +a simulated execution: make that rollback step/);
      expect(own, cmd).not.toMatch(/--simulate-latency|--simulate\b(?!-)/);
    }
    // run keeps the whole set.
    expect((await cortex(['run', '--help'])).stdout).toMatch(/--simulate-latency/);
  });
});
