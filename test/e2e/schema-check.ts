import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT, listFiles, readJson } from './helpers.js';

const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true });
const addFormats = (addFormatsModule as unknown as { default?: (a: Ajv2020) => void }).default ?? (addFormatsModule as unknown as (a: Ajv2020) => void);
addFormats(ajv);
const cache = new Map<string, ValidateFunction>();

export function validator(name: string): ValidateFunction {
  let v = cache.get(name);
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
    if (!schema) continue;
    const v = validator(schema);
    if (!v(readJson(join(root, rel)))) problems.push(`${rel}: ${ajv.errorsText(v.errors)}`);
  }
  return problems;
}
