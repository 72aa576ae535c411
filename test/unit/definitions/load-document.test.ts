import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DefinitionInvalidError } from '../../../src/errors.js';
import { loadDocument } from '../../../src/definitions/load-document.js';

const dir = mkdtempSync(join(tmpdir(), 'cortex-load-document-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadDocument, reading the same file again', () => {
  it('gives the data as parsed, whatever the previous caller did to its copy', async () => {
    const file = join(dir, 'wf.yaml');
    writeFileSync(file, 'workflow_id: a\nphases:\n  - phase_id: p\n    actions: []\n');
    const first = await loadDocument(file, 'workflows/wf.yaml');
    (first.data as { phases: Array<Record<string, unknown>> }).phases[0]!.contractor = 'filled-in-by-a-default';
    (first.data as Record<string, unknown>).workflow_id = 'changed';
    const again = await loadDocument(file, 'workflows/wf.yaml');
    expect(again.data).toEqual({ workflow_id: 'a', phases: [{ phase_id: 'p', actions: [] }] });
    expect(again.hash).toBe(first.hash);
    expect(again.issueAt('/phases/0/phase_id', 'x')).toMatchObject({ file: 'workflows/wf.yaml', line: 3 });
  });

  it('reads a file changed since anew, and still refuses one that became invalid', async () => {
    const file = join(dir, 'changing.yaml');
    writeFileSync(file, 'workflow_id: a\n');
    expect((await loadDocument(file, 'workflows/changing.yaml')).data).toEqual({ workflow_id: 'a' });
    writeFileSync(file, 'workflow_id: b\n');
    const b = await loadDocument(file, 'workflows/changing.yaml');
    expect(b.data).toEqual({ workflow_id: 'b' });
    writeFileSync(file, 'workflow_id: [\n');
    await expect(loadDocument(file, 'workflows/changing.yaml')).rejects.toBeInstanceOf(DefinitionInvalidError);
    writeFileSync(file, 'workflow_id: b\n');
    expect((await loadDocument(file, 'workflows/changing.yaml')).data).toEqual({ workflow_id: 'b' });
  });
});
