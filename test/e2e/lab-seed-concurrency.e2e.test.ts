import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT, removeRoot, tempRoot } from './helpers.js';

// Sessions that start on one unseeded lab at once (several `--simulate` runs, or queue workers)
// must seed it once: a second seeding wipes state/ under the first session's feet ("unknown node").
const startLab = pathToFileURL(join(PROJECT, 'dist', 'lab', 'start-lab.js')).href;
const labDir = pathToFileURL(join(PROJECT, 'dist', 'lab', 'lab-dir.js')).href;

const SESSION = `
const [lab, root, go] = process.argv.slice(2);
const { ensureSeeded } = await import(${JSON.stringify(startLab)});
const { updateState } = await import(${JSON.stringify(labDir)});
const fs = await import('node:fs');
while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 2));
ensureSeeded(lab, root);
updateState(lab, 'probe', () => ({ sessions: [] }), (s) => { s.sessions.push(process.pid); });
process.stdout.write(String(process.pid));
`;

describe('lab seeding', () => {
  it('six sessions starting on one unseeded lab at once seed it once and each keeps what it wrote', async () => {
    const root = tempRoot();
    try {
      const lab = join(root, 'lab');
      const go = join(root, 'go');
      const script = join(root, 'session.mjs');
      writeFileSync(script, SESSION);
      const runs = Array.from({ length: 6 }, () => execa(process.execPath, [script, lab, root, go]));
      mkdirSync(lab, { recursive: true });
      writeFileSync(go, '');
      const pids = (await Promise.all(runs)).map((r) => Number(r.stdout));
      const probe = JSON.parse(readFileSync(join(lab, 'state', 'probe.json'), 'utf8')) as { sessions: number[] };
      expect([...probe.sessions].sort()).toEqual([...pids].sort());
      expect(existsSync(join(lab, 'state', '.seeding'))).toBe(false);
      expect(existsSync(join(lab, 'seed.lock'))).toBe(false);
    } finally {
      removeRoot(root);
    }
  }, 60_000);

  it('a lab whose seeding was interrupted (its .seeding mark left) is seeded again at the next start', async () => {
    const root = tempRoot();
    try {
      const lab = join(root, 'lab');
      const script = join(root, 'session.mjs');
      writeFileSync(script, SESSION);
      const go = join(root, 'go');
      writeFileSync(go, '');
      await execa(process.execPath, [script, lab, root, go]);
      // A session that died mid-seed: the mark stays, the state is partial.
      writeFileSync(join(lab, 'state', '.seeding'), '1\n');
      writeFileSync(join(lab, 'state', 'probe.json'), '{"sessions":[1]}\n');
      const again = await execa(process.execPath, [script, lab, root, go]);
      const probe = JSON.parse(readFileSync(join(lab, 'state', 'probe.json'), 'utf8')) as { sessions: number[] };
      expect(probe.sessions).toEqual([Number(again.stdout)]);
      expect(existsSync(join(lab, 'state', '.seeding'))).toBe(false);
    } finally {
      removeRoot(root);
    }
  }, 60_000);
});
