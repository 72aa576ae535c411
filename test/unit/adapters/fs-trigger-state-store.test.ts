import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTriggerStateStore, triggerStatePath } from '../../../src/adapters/fs-trigger-state-store.js';

describe('FsTriggerStateStore', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cortex-trigger-state-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps each document as <root>/state/<name>.json, pretty-printed, 0600, with no temp file left', async () => {
    const store = new FsTriggerStateStore(root);
    expect(await store.read('tick')).toBeUndefined();
    await store.write('tick', { version: 1, schedules: {} });
    await store.write('dedup', { version: 1, entries: { k: { first_seen: 'a', expires_at: 'b' } } });
    const file = join(root, 'state', 'tick.json');
    expect(triggerStatePath(root, 'tick')).toBe(file);
    expect(store.describe('dedup')).toBe(join(root, 'state', 'dedup.json'));
    expect(readFileSync(file, 'utf8')).toBe('{\n  "version": 1,\n  "schedules": {}\n}\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(root, 'state')).sort()).toEqual(['dedup.json', 'tick.json']);
    expect(await store.read('dedup')).toEqual({ version: 1, entries: { k: { first_seen: 'a', expires_at: 'b' } } });
  });

  it('refuses a document that is not JSON with a CortexError naming the file', async () => {
    mkdirSync(join(root, 'state'));
    writeFileSync(join(root, 'state', 'dedup.json'), '{not json');
    await expect(new FsTriggerStateStore(root).read('dedup')).rejects.toMatchObject({ code: 'CORTEX_STATE_INVALID', message: expect.stringContaining(join(root, 'state', 'dedup.json')) });
  });
});
