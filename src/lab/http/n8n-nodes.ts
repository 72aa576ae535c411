/**
 * n8n node shapes, checked against the node definitions n8n publishes (upstream/n8n-nodes.json:
 * every n8n-nodes-base type with its typeVersions, and the parameter trees of the types cortex
 * generates). Three levels: the graph (unique names, [x,y] positions, connections between
 * existing nodes), the type (known, with a published typeVersion), the parameters (names and
 * option values that the description of that version has).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

type VersionCond = Array<number | { _cnd: Record<string, number> }>;

interface Prop {
  name: string;
  type: string;
  version?: { show?: VersionCond; hide?: VersionCond };
  values?: unknown[];
  options?: Prop[] | Array<{ name: string; values: Prop[] }>;
  multipleValues?: boolean;
}

interface NodesDigest {
  note: string;
  source: { package: string; version: string; file: string };
  types: Record<string, number[]>;
  details: Record<string, Array<{ versions: number[]; properties: Prop[] }>>;
}

export const N8N_NODES_DIGEST = require('./upstream/n8n-nodes.json') as NodesDigest;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isExpression = (v: unknown): boolean => typeof v === 'string' && v.startsWith('=');

/** The graph: unique node names, [x, y] positions, connections from and to nodes that exist. */
export function graphProblems(nodes: unknown[], connections: unknown): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  nodes.forEach((n, i) => {
    if (!isObject(n)) return;
    if (typeof n.name !== 'string' || !n.name) problems.push(`nodes/${i} has no name`);
    else if (names.has(n.name)) problems.push(`nodes/${i}: the node name "${n.name}" is used twice`);
    else names.add(n.name);
    if (typeof n.type !== 'string' || !n.type) problems.push(`nodes/${i} has no type`);
    if (typeof n.typeVersion !== 'number') problems.push(`nodes/${i} has no numeric typeVersion`);
    if (!(Array.isArray(n.position) && n.position.length === 2 && n.position.every((x) => typeof x === 'number'))) problems.push(`nodes/${i}: position must be [x, y]`);
  });
  if (!isObject(connections)) return problems;
  for (const [from, byType] of Object.entries(connections)) {
    if (!names.has(from)) problems.push(`connections: "${from}" is not a node of this workflow`);
    if (!isObject(byType)) {
      problems.push(`connections/${from} must be an object of connection types`);
      continue;
    }
    for (const [type, outputs] of Object.entries(byType)) {
      if (!Array.isArray(outputs)) {
        problems.push(`connections/${from}/${type} must be an array of outputs`);
        continue;
      }
      outputs.forEach((targets, o) => {
        if (targets === null) return;
        if (!Array.isArray(targets)) return void problems.push(`connections/${from}/${type}/${o} must be an array`);
        for (const t of targets) {
          if (!isObject(t) || typeof t.node !== 'string') problems.push(`connections/${from}/${type}/${o}: each target needs {node, type, index}`);
          else if (!names.has(t.node)) problems.push(`connections/${from}/${type}/${o}: "${t.node}" is not a node of this workflow`);
          else if (typeof t.index !== 'number' || typeof t.type !== 'string') problems.push(`connections/${from}/${type}/${o}: the target "${t.node}" needs a type and a numeric index`);
        }
      });
    }
  }
  return problems;
}

/** Why n8n cannot load this node's type, or undefined. */
export function nodeTypeProblem(node: Json): string | undefined {
  const type = String(node.type ?? '');
  if (!type.startsWith('n8n-nodes-base.')) return undefined; // community and langchain nodes: not in the digest
  const versions = N8N_NODES_DIGEST.types[type];
  if (!versions) return `Unrecognized node type: ${type}`;
  if (!versions.includes(node.typeVersion as number)) return `Unrecognized node type: ${type} has no typeVersion ${String(node.typeVersion)} (published: ${versions.join(', ')})`;
  return undefined;
}

function matches(cond: VersionCond, v: number): boolean {
  return cond.some((c) => {
    if (typeof c === 'number') return c === v;
    return Object.entries(c._cnd).every(([op, x]) => (op === 'gte' ? v >= x : op === 'lte' ? v <= x : op === 'gt' ? v > x : op === 'lt' ? v < x : op === 'eq' ? v === x : true));
  });
}

function visible(p: Prop, v: number): boolean {
  if (p.version?.show && !matches(p.version.show, v)) return false;
  if (p.version?.hide && matches(p.version.hide, v)) return false;
  return true;
}

/** Problems of `value` against the variants of one parameter (accepted when any variant accepts it). */
function checkValue(variants: Prop[], value: unknown, at: string, v: number): string[] {
  let first: string[] | undefined;
  for (const p of variants) {
    const problems = checkOne(p, value, at, v);
    if (problems.length === 0) return [];
    first ??= problems;
  }
  return first ?? [];
}

function checkOne(p: Prop, value: unknown, at: string, v: number): string[] {
  if (isExpression(value)) return [];
  switch (p.type) {
    case 'options':
      return p.values && !p.values.includes(value) ? [`${at} must be one of ${p.values.map((x) => JSON.stringify(x)).join(', ')}`] : [];
    case 'multiOptions':
      if (!Array.isArray(value)) return [`${at} must be an array`];
      return p.values ? value.filter((x) => !p.values?.includes(x)).map((x) => `${at}: ${JSON.stringify(x)} is not one of ${p.values?.join(', ')}`) : [];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${at} must be boolean`];
    case 'number':
      return typeof value === 'number' ? [] : [`${at} must be number`];
    case 'string':
    case 'json':
    case 'color':
    case 'dateTime':
    case 'hidden':
      return typeof value === 'string' || (p.type === 'color' && typeof value === 'number') || (p.type === 'hidden' && value !== undefined) ? [] : [`${at} must be string`];
    case 'collection':
      return isObject(value) ? checkObject((p.options ?? []) as Prop[], value, at, v) : [`${at} must be object`];
    case 'fixedCollection': {
      if (!isObject(value)) return [`${at} must be object`];
      const groups = (p.options ?? []) as Array<{ name: string; values: Prop[] }>;
      const problems: string[] = [];
      for (const [k, entry] of Object.entries(value)) {
        const g = groups.find((x) => x.name === k);
        if (!g) {
          problems.push(`${at}/${k} is not an option (${groups.map((x) => x.name).join(', ')})`);
          continue;
        }
        const items = p.multipleValues ? entry : [entry];
        if (!Array.isArray(items)) {
          problems.push(`${at}/${k} must be an array`);
          continue;
        }
        items.forEach((item, i) => {
          if (!isObject(item)) problems.push(`${at}/${k}/${i} must be object`);
          else problems.push(...checkObject(g.values, item, `${at}/${k}${p.multipleValues ? `/${i}` : ''}`, v));
        });
      }
      return problems;
    }
    case 'filter':
      return filterProblems(value, at);
    default:
      return [];
  }
}

/** n8n's filter value (If/Filter v2): {conditions: [{leftValue, rightValue, operator: {type, operation}}], combinator, options}. */
function filterProblems(value: unknown, at: string): string[] {
  if (!isObject(value)) return [`${at} must be object`];
  const problems: string[] = [];
  if (!Array.isArray(value.conditions) || value.conditions.length === 0) problems.push(`${at}/conditions must be a non-empty array`);
  else {
    value.conditions.forEach((c, i) => {
      const op = isObject(c) ? c.operator : undefined;
      if (!isObject(c) || !('leftValue' in c) || !isObject(op) || typeof op.type !== 'string' || typeof op.operation !== 'string') {
        problems.push(`${at}/conditions/${i} needs leftValue and operator {type, operation}`);
      } else if (op.singleValue !== true && !('rightValue' in c)) problems.push(`${at}/conditions/${i} needs rightValue (or operator.singleValue)`);
    });
  }
  if (value.combinator !== undefined && value.combinator !== 'and' && value.combinator !== 'or') problems.push(`${at}/combinator must be "and" or "or"`);
  if (value.options !== undefined && !isObject(value.options)) problems.push(`${at}/options must be object`);
  return problems;
}

function checkObject(props: Prop[], obj: Json, at: string, v: number): string[] {
  const problems: string[] = [];
  for (const [k, value] of Object.entries(obj)) {
    const variants = props.filter((p) => p.name === k && visible(p, v));
    if (variants.length === 0) {
      problems.push(`${at}/${k} is not a parameter here`);
      continue;
    }
    problems.push(...checkValue(variants, value, `${at}/${k}`, v));
  }
  return problems;
}

/**
 * Parameters that the published description of the node's type and version does not have, or
 * values outside its options. Nodes whose type has no details in the digest are not checked.
 */
export function nodeParameterProblems(node: Json): string[] {
  const type = String(node.type ?? '');
  const v = node.typeVersion as number;
  const entry = N8N_NODES_DIGEST.details[type]?.find((d) => d.versions.includes(v));
  if (!entry) return [];
  if (!isObject(node.parameters)) return [`node "${String(node.name)}": parameters must be an object`];
  return checkObject(entry.properties, node.parameters, `node "${String(node.name)}" (${type} v${v}) parameters`, v);
}

/** Every problem of a workflow's nodes and connections: graph, types and parameters. */
export function workflowNodeProblems(nodes: unknown[], connections: unknown): string[] {
  const problems = graphProblems(nodes, connections);
  for (const n of nodes) {
    if (!isObject(n)) continue;
    const t = nodeTypeProblem(n);
    if (t) problems.push(`node "${String(n.name)}": ${t}`);
    else problems.push(...nodeParameterProblems(n));
  }
  return problems;
}
