/** Label and field selectors as the API server parses them (the subset kubectl and the lab use). */
import type { KObject } from './object.js';

export type Requirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

export class SelectorError extends Error {}

function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** Parses `k=v,k!=v,k in (a,b),k notin (a),k,!k`. Throws SelectorError on bad syntax. */
export function parseLabelSelector(text: string | null | undefined): Requirement[] {
  if (!text) return [];
  return splitTop(text).map((part): Requirement => {
    let m = /^([^\s=!()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      return { key: m[1]!, op: m[2] as 'in' | 'notin', values };
    }
    m = /^([^\s=!()]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/.exec(part);
    if (m) return { key: m[1]!, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3]! };
    m = /^!\s*([^\s=!()]+)$/.exec(part);
    if (m) return { key: m[1]!, op: 'notexists' };
    m = /^([^\s=!()]+)$/.exec(part);
    if (m) return { key: m[1]!, op: 'exists' };
    throw new SelectorError(`unable to parse requirement: ${part}`);
  });
}

export function matchesRequirements(labels: Record<string, string> | undefined, reqs: readonly Requirement[]): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'eq':
        return has && v === r.value;
      case 'neq':
        return !has || v !== r.value;
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

/** A metav1.LabelSelector (matchLabels + matchExpressions) as requirements. */
export function labelSelectorRequirements(sel: unknown): Requirement[] {
  const s = (sel ?? {}) as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  const reqs: Requirement[] = Object.entries(s.matchLabels ?? {}).map(([key, value]) => ({ key, op: 'eq', value }));
  for (const e of s.matchExpressions ?? []) {
    const op = e.operator.toLowerCase();
    if (op === 'in' || op === 'notin') reqs.push({ key: e.key, op, values: e.values ?? [] });
    else if (op === 'exists') reqs.push({ key: e.key, op: 'exists' });
    else if (op === 'doesnotexist') reqs.push({ key: e.key, op: 'notexists' });
  }
  return reqs;
}

export function selectorString(matchLabels: Record<string, string> | undefined): string {
  return Object.entries(matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

export interface FieldRequirement {
  path: string;
  negate: boolean;
  value: string;
}

/** Field selectors the lab understands (a real server allows a per-kind list, too). */
const FIELD_PATHS = new Set([
  'metadata.name',
  'metadata.namespace',
  'spec.nodeName',
  'spec.unschedulable',
  'status.phase',
  'spec.schedulerName',
  'spec.serviceAccountName',
  'status.podIP',
  'type',
  'reason',
  'source',
  'involvedObject.kind',
  'involvedObject.name',
  'involvedObject.namespace',
  'involvedObject.uid',
  'involvedObject.fieldPath',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
]);

export function parseFieldSelector(text: string | null | undefined): FieldRequirement[] {
  if (!text) return [];
  return splitTop(text).map((part) => {
    const m = /^([A-Za-z.]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${part}'`);
    if (!FIELD_PATHS.has(m[1]!)) throw new SelectorError(`field label not supported: ${m[1]}`);
    return { path: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
}

function fieldValue(obj: KObject, path: string): string {
  let cur: unknown = obj;
  for (const seg of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[seg];
  }
  if (cur === undefined || cur === null) return path === 'spec.unschedulable' ? 'false' : '';
  return String(cur);
}

export function matchesFields(obj: KObject, reqs: readonly FieldRequirement[]): boolean {
  return reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.negate);
}
