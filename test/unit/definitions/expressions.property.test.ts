import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  ExpressionSyntaxError,
  formatPath,
  parseCondition,
  parseTemplate,
  type CompareOp,
  type Expr,
  type PathSegment,
} from '../../../src/definitions/expression-parser.js';
import {
  deepEqual,
  evaluate,
  evaluateCondition,
  ExpressionEvalError,
  getPath,
  renderTemplate,
  type Resolver,
} from '../../../src/definitions/expression-eval.js';

const NUM_RUNS = 300;

// ---------------------------------------------------------------------------------------------
// helpers

type Outcome = { ok: true; value: unknown } | { ok: false; name: string; message: string };

function outcome(f: () => unknown): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (e) {
    if (e instanceof ExpressionEvalError) return { ok: false, name: e.name, message: e.message };
    throw e;
  }
}

function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.ok && b.ok) return deepEqual(a.value, b.value) && typeof a.value === typeof b.value;
  if (!a.ok && !b.ok) return a.name === b.name && a.message === b.message;
  return false;
}

/** Runs `f`; passes when it returns or throws an ExpressionSyntaxError, rethrows anything else. */
function returnsOrSyntaxError(f: () => unknown): true {
  try {
    f();
  } catch (e) {
    if (!(e instanceof ExpressionSyntaxError)) throw e;
    expect(Number.isInteger(e.offset)).toBe(true);
    expect(e.offset).toBeGreaterThanOrEqual(0);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// (a) any string: return or ExpressionSyntaxError, nothing else, no hang

const TOKENS = [
  '${', '$${', '$', '}', '{', '[', ']', '(', ')', "'", '"', '\\', '==', '!=', '<', '<=', '>', '>=', '&&', '||', '!',
  'in', 'not', '.', ',', '0', '12', '-', '1.5e3', 'a-b', 'a', '_x', 'true', 'null', ' ', ' ', '\n',
] as const;

const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((parts) => parts.join(''));

const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: 'binary' }),
  tokenSoup,
  tokenSoup.map((s) => `\${${s}}`),
);

describe('parsers accept or reject any string cleanly', () => {
  it('parseCondition returns or throws ExpressionSyntaxError', () => {
    fc.assert(
      fc.property(anyString, (s) => returnsOrSyntaxError(() => parseCondition(s))),
      { numRuns: NUM_RUNS },
    );
  });

  it('parseTemplate returns or throws ExpressionSyntaxError', () => {
    fc.assert(
      fc.property(anyString, (s) => returnsOrSyntaxError(() => parseTemplate(s))),
      { numRuns: NUM_RUNS },
    );
  });

  it('long token soups finish quickly', () => {
    const long = fc.array(fc.constantFrom(...TOKENS), { minLength: 500, maxLength: 2000 }).map((p) => p.join(''));
    fc.assert(
      fc.property(long, (s) => {
        const started = performance.now();
        returnsOrSyntaxError(() => parseCondition(s));
        returnsOrSyntaxError(() => parseTemplate(s));
        return performance.now() - started < 500;
      }),
      { numRuns: 50 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// (b) generated ASTs: print → parse → evaluate equals evaluate(AST)

const scope = {
  parameters: {
    replicas: 3,
    severity: 'critical',
    tags: ['a', 'b'],
    affected_resource: { type: 'node', identifier: 'worker-3' },
    nothing: null,
    enabled: true,
  },
  'clone-repo': { output: { path: '/tmp/clone' } },
  deploy: { handoff_data: { node_ports: [30080, 30443], 'odd key': "it's" } },
  flag: false,
};
const scopeResolver: Resolver = (path) => getPath(scope, path);

const PATHS: PathSegment[][] = [
  ['parameters', 'replicas'],
  ['parameters', 'severity'],
  ['parameters', 'tags'],
  ['parameters', 'tags', 1],
  ['parameters', 'affected_resource'],
  ['parameters', 'affected_resource', 'type'],
  ['parameters', 'missing'],
  ['parameters', 'nothing'],
  ['parameters', 'enabled'],
  ['parameters', '__proto__'],
  ['clone-repo', 'output', 'path'],
  ['deploy', 'handoff_data', 'node_ports', 0],
  ['deploy', 'handoff_data', 'odd key'],
  ['flag'],
];

const COMPARE_OPS: CompareOp[] = ['==', '!=', '<', '<=', '>', '>=', 'in', 'not in'];

const literalArb: fc.Arbitrary<Expr> = fc
  .oneof(
    fc.constantFrom('node', 'pod', 'critical', 'a', "it's", '/tmp/clone', '', 'false'),
    fc.string({ unit: 'grapheme', maxLength: 6 }),
    fc.integer({ min: -5, max: 30500 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
    fc.boolean(),
    fc.constant(null),
  )
  .map((value): Expr => ({ kind: 'literal', value }));

const refArb: fc.Arbitrary<Expr> = fc.constantFrom(...PATHS).map((path): Expr => ({ kind: 'ref', path, text: formatPath(path) }));

const { expr: exprArb } = fc.letrec<{ expr: Expr }>((tie) => ({
  expr: fc.oneof(
    { maxDepth: 5, depthSize: 'small' },
    literalArb,
    refArb,
    fc.record({ kind: fc.constant('not' as const), operand: tie('expr') }),
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('expr'), right: tie('expr') }),
    fc.record({ kind: fc.constant('compare' as const), op: fc.constantFrom(...COMPARE_OPS), left: tie('expr'), right: tie('expr') }),
    fc.record({ kind: fc.constant('list' as const), items: fc.array(tie('expr'), { maxLength: 3 }) }),
  ),
}));

function printString(s: string): string {
  return `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** Prints an expression in the surface syntax; every compound is parenthesised, so it is a primary. */
function print(e: Expr, bareRefs: boolean): string {
  switch (e.kind) {
    case 'literal':
      return typeof e.value === 'string' ? printString(e.value) : String(e.value);
    case 'ref':
      return bareRefs ? formatPath(e.path) : `\${${formatPath(e.path)}}`;
    case 'list':
      return `[${e.items.map((i) => print(i, bareRefs)).join(', ')}]`;
    case 'not':
      return `(!${print(e.operand, bareRefs)})`;
    case 'and':
      return `(${print(e.left, bareRefs)} && ${print(e.right, bareRefs)})`;
    case 'or':
      return `(${print(e.left, bareRefs)} || ${print(e.right, bareRefs)})`;
    case 'compare':
      return `(${print(e.left, bareRefs)} ${e.op} ${print(e.right, bareRefs)})`;
  }
}

describe('printing, parsing and evaluating a generated expression', () => {
  it('gives the same result as evaluating the AST directly', () => {
    fc.assert(
      fc.property(exprArb, fc.boolean(), (e, bare) => {
        const expected = outcome(() => evaluate(e, scopeResolver));
        const src = print(e, bare);
        const parsed = parseCondition(src);
        return sameOutcome(outcome(() => evaluate(parsed, scopeResolver)), expected);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('gives the same result inside ${...} as a whole-value template', () => {
    fc.assert(
      fc.property(exprArb, (e) => {
        const expected = outcome(() => evaluate(e, scopeResolver));
        const t = parseTemplate(`\${${print(e, false)}}`);
        expect(t.isWhole).toBe(true);
        return sameOutcome(outcome(() => renderTemplate(t, scopeResolver)), expected);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives random edits of a valid expression', () => {
    const edited = fc
      .tuple(exprArb, fc.nat(), fc.constantFrom(...TOKENS, ''), fc.nat({ max: 3 }))
      .map(([e, at, insert, cut]) => {
        const src = print(e, false);
        const i = at % (src.length + 1);
        return src.slice(0, i) + insert + src.slice(i + cut);
      });
    fc.assert(
      fc.property(edited, (s) => returnsOrSyntaxError(() => parseCondition(s)) && returnsOrSyntaxError(() => parseTemplate(s))),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// (c) evaluate with arbitrary JSON: returns or ExpressionEvalError only

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(h);
}

const jsonValues = fc.array(fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)), { minLength: 1, maxLength: 8 });

function jsonResolver(values: readonly unknown[]): Resolver {
  return (path) => values[hash(formatPath(path)) % values.length];
}

describe('evaluating against arbitrary JSON values', () => {
  it('returns or throws ExpressionEvalError for generated expressions', () => {
    fc.assert(
      fc.property(exprArb, jsonValues, (e, values) => {
        const resolve = jsonResolver(values);
        outcome(() => evaluate(e, resolve));
        const c = outcome(() => evaluateCondition(e, resolve));
        return !c.ok || typeof c.value === 'boolean';
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('returns or throws ExpressionEvalError for whatever the token soup parses to', () => {
    fc.assert(
      fc.property(tokenSoup, jsonValues, (s, values) => {
        let parsed: Expr;
        try {
          parsed = parseCondition(s);
        } catch (e) {
          if (e instanceof ExpressionSyntaxError) return true;
          throw e;
        }
        outcome(() => evaluate(parsed, jsonResolver(values)));
        return true;
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('renders any parsed template to a value or throws ExpressionEvalError', () => {
    fc.assert(
      fc.property(exprArb, fc.string({ maxLength: 5 }), jsonValues, (e, text, values) => {
        const t = parseTemplate(`${text.replace(/\$/g, '')}\${${print(e, false)}}`);
        const r = outcome(() => renderTemplate(t, jsonResolver(values)));
        return !r.ok || t.isWhole || typeof r.value === 'string';
      }),
      { numRuns: NUM_RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// (d) text without ${ round-trips unchanged

const noResolve: Resolver = () => {
  throw new Error('a text-only template must not resolve anything');
};

describe('text without ${', () => {
  const text = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), tokenSoup);

  it('round-trips unchanged through parseTemplate/renderTemplate', () => {
    fc.assert(
      fc.property(
        text.filter((s) => !s.includes('${')),
        (s) => {
          const t = parseTemplate(s);
          expect(t.isWhole).toBe(false);
          return renderTemplate(t, noResolve) === s;
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('any text round-trips once every ${ is escaped as $${', () => {
    fc.assert(
      fc.property(text, (s) => {
        const escaped = s.split('${').join('$${');
        return renderTemplate(parseTemplate(escaped), noResolve) === s;
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
