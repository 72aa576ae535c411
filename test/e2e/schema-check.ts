import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT, listFiles, readJson } from './helpers.js';
import { readActiveRecord } from '../../src/adapters/record-files.js';

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
const addFormats = (addFormatsModule as unknown as { default?: (a: Ajv2020) => void }).default ?? (addFormatsModule as unknown as (a: Ajv2020) => void);
addFormats(ajv);
const cache = new Map<string, ValidateFunction>();

export function validator(name: string): ValidateFunction {
  let v = cache.get(name);
  // The journal's lines refer to the record's definitions.
  if (!v && name === 'execution-journal') validator('execution');
  if (!v) {
    v = ajv.compile(JSON.parse(readFileSync(join(PROJECT, 'schemas', `${name}.schema.json`), 'utf8')));
    cache.set(name, v);
  }
  return v;
}

/** Validates every file cortex wrote under a root against its schema; returns the problems. */
export function checkRootFiles(root: string): string[] {
  const problems: string[] = [];
  for (const rel of listFiles(root)) {
    let schema: string | undefined;
    if (/^workflows\/(active|history)\/workflow-.*\.json$/.test(rel)) schema = 'execution';
    else if (/^masters\/[^/]+\/handoffs\/.*\.json$/.test(rel)) schema = 'handoff';
    else if (rel === 'workflows/metrics/workflow-stats.json') schema = 'workflow-stats';
    else if (rel === 'workflows/metrics/contractor-performance.json') schema = 'contractor-performance';
    else if (rel === 'workflows/metrics/.executions-index.json') schema = 'metrics-index';
    const journal = /^state\/journal\/workflow-(.*)\.journal$/.exec(rel);
    if (journal) problems.push(...checkJournal(root, rel, journal[1] as string));
    if (!schema) continue;
    const v = validator(schema);
    if (!v(readJson(join(root, rel)))) problems.push(`${rel}: ${ajv.errorsText(v.errors)}`);
  }
  return problems;
}

/**
 * An execution journal: every line validates (a torn last line, what a kill mid-append leaves, is
 * allowed), and the record merged with it, as cortex reads it, is a
 * valid execution record.
 */
function checkJournal(root: string, rel: string, executionId: string): string[] {
  const problems: string[] = [];
  const text = readFileSync(join(root, rel), 'utf8');
  const lines = text.split('\n');
  const last = lines.pop();
  if (last) {
    // With no newline: a kill mid-append; readers ignore it when it does not parse.
    try {
      JSON.parse(last);
      lines.push(last);
    } catch {
      // torn
    }
  }
  const v = validator('execution-journal');
  lines.forEach((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      problems.push(`${rel}:${i + 1}: ${(e as Error).message}`);
      return;
    }
    if (!v(value)) problems.push(`${rel}:${i + 1}: ${ajv.errorsText(v.errors)}`);
    if (i === 0 && !(value as { base?: unknown }).base) problems.push(`${rel}:1: not a base line`);
    if (i > 0 && (value as { base?: unknown }).base) problems.push(`${rel}:${i + 1}: a base line after line 1`);
  });
  const merged = readActiveRecord(root, executionId);
  if (merged) {
    const rv = validator('execution');
    if (!rv(merged.record)) problems.push(`${rel} applied to workflows/active/workflow-${executionId}.json: ${ajv.errorsText(rv.errors)}`);
  }
  return problems;
}
