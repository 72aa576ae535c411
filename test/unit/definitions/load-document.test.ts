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

describe('issueAt: where an issue is in its file', () => {
  it('gives line and column in YAML and in JSON (printed, compared, copied), the value position for a scalar, the key for a block', async () => {
    const yamlFile = join(dir, 'where.yaml');
    writeFileSync(yamlFile, 'workflow_id: a\nphases:\n  - phase_id: p\n    actions: []\n');
    const y = await loadDocument(yamlFile, 'workflows/where.yaml');
    expect(y.issueAt('/phases/0/phase_id', 'x')).toEqual({ file: 'workflows/where.yaml', pointer: '/phases/0/phase_id', message: 'x', line: 3, column: 15 });
    expect(JSON.parse(JSON.stringify(y.issueAt('/phases', 'y')))).toEqual({ file: 'workflows/where.yaml', pointer: '/phases', message: 'y', line: 2, column: 1 });
    const jsonFile = join(dir, 'where.json');
    writeFileSync(jsonFile, '{\n  "workflow_id": "a",\n  "phases": [\n    { "phase_id": "p", "actions": [] }\n  ]\n}\n');
    const j = await loadDocument(jsonFile, 'workflows/where.json');
    expect({ ...j.issueAt('/phases/0/phase_id', 'x') }).toEqual({ file: 'workflows/where.json', pointer: '/phases/0/phase_id', message: 'x', line: 4, column: 19 });
    // A pointer that is not in the file: the issue still names the file and the pointer.
    const none = j.issueAt('/nowhere/deep', 'z');
    expect(none.message).toBe('z');
    expect(JSON.parse(JSON.stringify(none))).toMatchObject({ file: 'workflows/where.json', pointer: '/nowhere/deep' });
  });
});
