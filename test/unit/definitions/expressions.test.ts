import { describe, it, expect } from 'vitest';
import {
  collectRefs,
  ExpressionSyntaxError,
  formatPath,
  parseCondition,
  parseTemplate,
  type Expr,
  type PathSegment,
} from '../../../src/definitions/expression-parser.js';
import {
  deepEqual,
  evaluate,
  evaluateCondition,
  ExpressionEvalError,
  getPath,
  isTruthy,
  renderTemplate,
  resolveValue,
  stringify,
  type Resolver,
} from '../../../src/definitions/expression-eval.js';

const scope = {
  parameters: {
    replicas: 3,
    repository: 'org/app',
    image_tag: 'abc123',
    severity: 'critical',
    require_approval: true,
    affected_resource: { type: 'node', identifier: 'worker-3', ip_address: '10.0.0.7' },
    tags: ['a', 'b'],
    empty: '',
    nothing: null,
  },
  'clone-repo': { output: { path: '/tmp/clone' } },
  deploy: { handoff_data: { node_ports: [30080, 30443], pod_ips: ['10.1.0.1', '10.1.0.2'], 'odd key': 'x' } },
  investigation: { handoff_data: { scope: 'multiple_systems' } },
  deployment_duration: 2000,
  smoke_tests: { failed: 0 },
  date: '20240102',
  sequence: 7,
};

const resolve: Resolver = (path) => getPath(scope, path);

function render(src: string): unknown {
  return renderTemplate(parseTemplate(src), resolve);
}

function cond(src: string): boolean {
  return evaluateCondition(src, resolve);
}

/** The ExpressionSyntaxError thrown by `f`, or a failed expectation. */
function syntaxError(f: () => unknown): ExpressionSyntaxError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ExpressionSyntaxError);
    return e as ExpressionSyntaxError;
  }
  throw new Error('expected an ExpressionSyntaxError');
}

function height(e: Expr): number {
  switch (e.kind) {
    case 'literal':
    case 'ref':
      return 1;
    case 'list':
      return 1 + Math.max(0, ...e.items.map(height));
    case 'not':
      return 1 + height(e.operand);
    default:
      return 1 + Math.max(height(e.left), height(e.right));
  }
}

function refPath(src: string): PathSegment[] {
  const t = parseTemplate(src);
  const part = t.parts[0];
  if (part?.kind !== 'expr' || part.expr.kind !== 'ref') throw new Error(`not a single reference: ${src}`);
  return part.expr.path;
}

describe('parseTemplate: references', () => {
  it('parses a dotted parameter reference as one whole expression', () => {
    const t = parseTemplate('${parameters.affected_resource.identifier}');
    expect(t.isWhole).toBe(true);
    expect(t.parts).toEqual([
      {
        kind: 'expr',
        source: '${parameters.affected_resource.identifier}',
        expr: { kind: 'ref', path: ['parameters', 'affected_resource', 'identifier'], text: 'parameters.affected_resource.identifier' },
      },
    ]);
  });

  it('accepts kebab-case action and phase ids', () => {
    expect(refPath('${clone-repo.output.path}')).toEqual(['clone-repo', 'output', 'path']);
    expect(refPath('${detect-and-record.handoff_data.incident_id}')).toEqual(['detect-and-record', 'handoff_data', 'incident_id']);
  });

  it('parses [0] and quoted-key indexing', () => {
    expect(refPath('${deploy.handoff_data.node_ports[0]}')).toEqual(['deploy', 'handoff_data', 'node_ports', 0]);
    expect(refPath("${deploy.handoff_data['odd key']}")).toEqual(['deploy', 'handoff_data', 'odd key']);
    expect(refPath('${deploy.handoff_data["odd key"]}')).toEqual(['deploy', 'handoff_data', 'odd key']);
    expect(refPath('${a[1][2].b}')).toEqual(['a', 1, 2, 'b']);
    expect(refPath('${a[ 1 ]}')).toEqual(['a', 1]);
  });

  it('parses single-name built-ins and allows spaces around the expression', () => {
    expect(refPath('${GIT_SHA}')).toEqual(['GIT_SHA']);
    expect(refPath('${ parameters.replicas }')).toEqual(['parameters', 'replicas']);
  });

  it('does not allow spaces inside a path', () => {
    expect(syntaxError(() => parseTemplate('${parameters. replicas}')).offset).toBe(13);
    syntaxError(() => parseTemplate('${parameters .replicas}'));
  });

  it('splits interpolated strings into text and expressions', () => {
    const t = parseTemplate('harbor.cortex.local/${parameters.repository}:${parameters.image_tag}');
    expect(t.isWhole).toBe(false);
    expect(t.parts.map((p) => (p.kind === 'text' ? p.text : p.source))).toEqual([
      'harbor.cortex.local/',
      '${parameters.repository}',
      ':',
      '${parameters.image_tag}',
    ]);
  });

  it('is not whole when anything surrounds the expression', () => {
    expect(parseTemplate(' ${a}').isWhole).toBe(false);
    expect(parseTemplate('${a} ').isWhole).toBe(false);
    expect(parseTemplate('${a}${b}').isWhole).toBe(false);
  });

  it('treats a string without ${ as one text part', () => {
    expect(parseTemplate('plain text')).toEqual({ parts: [{ kind: 'text', text: 'plain text' }], isWhole: false });
    expect(parseTemplate('{{alert.name}} $HOME $ {x}')).toEqual({
      parts: [{ kind: 'text', text: '{{alert.name}} $HOME $ {x}' }],
      isWhole: false,
    });
  });

  it('reads $${ as a literal ${', () => {
    const t = parseTemplate('echo $${HOME} ${parameters.replicas}');
    expect(t.parts[0]).toEqual({ kind: 'text', text: 'echo ${HOME} ' });
    expect(render('echo $${HOME} and ${parameters.replicas}')).toBe('echo ${HOME} and 3');
    expect(render('$${only}')).toBe('${only}');
  });

  it('allows a } inside a quoted string in an embedded condition', () => {
    expect(render("${parameters.repository == 'a}b'}")).toBe(false);
  });
});

describe('renderTemplate', () => {
  it('keeps the type of a whole-value reference', () => {
    expect(render('${parameters.replicas}')).toBe(3);
    expect(render('${parameters.require_approval}')).toBe(true);
    expect(render('${deploy.handoff_data.pod_ips}')).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(render('${parameters.affected_resource}')).toEqual(scope.parameters.affected_resource);
    expect(render('${deploy.handoff_data.node_ports[0]}')).toBe(30080);
    expect(render('${parameters.nothing}')).toBeNull();
    expect(render('${parameters.missing}')).toBeUndefined();
  });

  it('interpolates strings, numbers, booleans and JSON', () => {
    expect(render('harbor.cortex.local/${parameters.repository}:${parameters.image_tag}')).toBe('harbor.cortex.local/org/app:abc123');
    expect(render('SEC-${date}-${sequence}')).toBe('SEC-20240102-7');
    expect(render('replicas=${parameters.replicas} approve=${parameters.require_approval}')).toBe('replicas=3 approve=true');
    expect(render('target: ${parameters.affected_resource}')).toBe(
      'target: {"type":"node","identifier":"worker-3","ip_address":"10.0.0.7"}',
    );
    expect(render('ips=${deploy.handoff_data.pod_ips}')).toBe('ips=["10.1.0.1","10.1.0.2"]');
    expect(render('[${parameters.nothing}|${parameters.missing}]')).toBe('[|]');
  });

  it('keeps text after an expression (time arithmetic is plain text)', () => {
    expect(render('${parameters.image_tag} - 1h')).toBe('abc123 - 1h');
  });

  it('stringify renders scalars plainly and everything else as JSON', () => {
    expect(stringify(undefined)).toBe('');
    expect(stringify(null)).toBe('');
    expect(stringify('x')).toBe('x');
    expect(stringify(1.5)).toBe('1.5');
    expect(stringify(false)).toBe('false');
    expect(stringify({ a: [1] })).toBe('{"a":[1]}');
  });

  it('stringify reports a value that cannot be JSON as an ExpressionEvalError', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => stringify(cyclic)).toThrow(ExpressionEvalError);
  });
});

describe('conditions', () => {
  it('evaluates the conditions of the reference templates', () => {
    expect(cond("${parameters.affected_resource.type} in ['node', 'pod']")).toBe(true);
    expect(cond("${parameters.affected_resource.type} == 'node' || ${parameters.affected_resource.type} == 'pod'")).toBe(true);
    expect(cond("${parameters.severity} == 'critical'")).toBe(true);
    expect(cond("${investigation.handoff_data.scope} == 'multiple_systems'")).toBe(true);
    expect(cond('deployment_duration > 1800')).toBe(true);
    expect(cond('smoke_tests.failed > 0')).toBe(false);
  });

  it('evaluates the same conditions against other values', () => {
    const other: Resolver = (path) =>
      getPath({ parameters: { severity: 'low', affected_resource: { type: 'vm' } } }, path);
    expect(evaluateCondition("${parameters.affected_resource.type} in ['node', 'pod']", other)).toBe(false);
    expect(
      evaluateCondition("${parameters.affected_resource.type} == 'node' || ${parameters.affected_resource.type} == 'pod'", other),
    ).toBe(false);
    expect(evaluateCondition("${parameters.severity} == 'critical'", other)).toBe(false);
  });

  it('supports not in, !=, and the ordering operators', () => {
    expect(cond("${parameters.severity} not in ['low', 'medium']")).toBe(true);
    expect(cond("${parameters.severity} != 'low'")).toBe(true);
    expect(cond('${parameters.replicas} >= 3 && ${parameters.replicas} <= 3')).toBe(true);
    expect(cond('${parameters.replicas} < 3')).toBe(false);
    expect(cond("'abc' < 'abd'")).toBe(true);
    expect(cond('-1.5 < 0')).toBe(true);
    expect(cond('1e3 == 1000')).toBe(true);
  });

  it('negates with !', () => {
    expect(cond('!${parameters.require_approval}')).toBe(false);
    expect(cond("!(${parameters.severity} == 'low')")).toBe(true);
    expect(cond('!!${parameters.replicas}')).toBe(true);
    expect(cond('!${parameters.missing}')).toBe(true);
  });

  it('binds && tighter than ||', () => {
    expect(cond('true || false && false')).toBe(true);
    expect(cond('false && true || true')).toBe(true);
    expect(cond('(true || false) && false')).toBe(false);
    const e = parseCondition('a || b && c');
    expect(e.kind).toBe('or');
    if (e.kind === 'or') expect(e.right.kind).toBe('and');
  });

  it('short-circuits && and || left to right', () => {
    // The right side would throw (ordering a missing value) if it were evaluated.
    expect(cond('false && ${parameters.missing} > 1')).toBe(false);
    expect(cond('true || ${parameters.missing} > 1')).toBe(true);
    expect(() => cond('true && ${parameters.missing} > 1')).toThrow(ExpressionEvalError);
  });

  it('treats a missing value as null for == and in', () => {
    expect(cond('${parameters.missing} == null')).toBe(true);
    expect(cond('${parameters.nothing} == null')).toBe(true);
    expect(cond('${parameters.missing} in [null]')).toBe(true);
    expect(cond('${parameters.missing} != null')).toBe(false);
  });

  it('compares lists and objects by value', () => {
    expect(cond("${parameters.tags} == ['a', 'b']")).toBe(true);
    expect(cond("${parameters.tags} == ['b', 'a']")).toBe(false);
    expect(cond("['a'] in [['a'], ['b']]")).toBe(true);
  });

  it('uses in on strings (substring) and objects (own key)', () => {
    expect(cond("'org' in ${parameters.repository}")).toBe(true);
    expect(cond("'identifier' in ${parameters.affected_resource}")).toBe(true);
    expect(cond("'toString' in ${parameters.affected_resource}")).toBe(false);
    expect(cond("'a' in ${parameters.tags}")).toBe(true);
  });

  it('does not convert types: 3 is not "3"', () => {
    expect(cond("${parameters.replicas} == '3'")).toBe(false);
    expect(cond('${parameters.replicas} == 3')).toBe(true);
  });

  it('throws ExpressionEvalError when ordering values of different types', () => {
    expect(() => cond("${parameters.replicas} > 'two'")).toThrow(ExpressionEvalError);
    expect(() => cond("${parameters.replicas} > 'two'")).toThrow(/cannot compare number 3 > 'two'/);
    expect(() => cond('${parameters.missing} < 1')).toThrow(/a missing value/);
    expect(() => cond('${parameters.tags} < 1')).toThrow(ExpressionEvalError);
    expect(() => cond('true >= false')).toThrow(ExpressionEvalError);
  });

  it('throws ExpressionEvalError for in without a container', () => {
    expect(() => cond("'a' in 3")).toThrow(ExpressionEvalError);
    expect(() => cond('1 in ${parameters.repository}')).toThrow(ExpressionEvalError);
    expect(() => cond("'a' in ${parameters.missing}")).toThrow(/"in" needs a list/);
    expect(() => cond('null in ${parameters.repository}')).toThrow(/"in" with a string on its right needs a string on its left, got null/);
  });

  it('uses the documented truth rules', () => {
    for (const v of [undefined, null, false, 0, '', 'false']) expect(isTruthy(v)).toBe(false);
    for (const v of [true, 1, -1, 'x', 'true', [], {}]) expect(isTruthy(v)).toBe(true);
    expect(cond('${parameters.empty}')).toBe(false);
    expect(cond('${parameters.tags}')).toBe(true);
  });

  it('accepts a parsed expression as well as a string', () => {
    expect(evaluateCondition(parseCondition("${parameters.severity} == 'critical'"), resolve)).toBe(true);
  });

  it('parses literals', () => {
    expect(parseCondition("'it\\'s'")).toEqual({ kind: 'literal', value: "it's" });
    expect(parseCondition('"a\\nb\\t"')).toEqual({ kind: 'literal', value: 'a\nb\t' });
    expect(parseCondition('true')).toEqual({ kind: 'literal', value: true });
    expect(parseCondition('null')).toEqual({ kind: 'literal', value: null });
    expect(parseCondition('-12.5')).toEqual({ kind: 'literal', value: -12.5 });
    expect(parseCondition('[]')).toEqual({ kind: 'list', items: [] });
    // A name that merely starts with a keyword is a reference.
    expect(parseCondition('trueish')).toEqual({ kind: 'ref', path: ['trueish'], text: 'trueish' });
    expect(parseCondition('index in inventory').kind).toBe('compare');
  });
});

describe('syntax errors', () => {
  it('reports an unterminated string with its offset', () => {
    const e = syntaxError(() => parseCondition("${parameters.severity} == 'critical"));
    expect(e.message).toMatch(/unterminated string literal/);
    expect(e.offset).toBe(35);
    expect(e.name).toBe('ExpressionSyntaxError');
  });

  it('reports a missing }', () => {
    const e = syntaxError(() => parseTemplate('image:${parameters.image_tag'));
    expect(e.message).toMatch(/expected "}" to close "\$\{"/);
    expect(e.offset).toBe(28);
  });

  it('reports ${}', () => {
    const e = syntaxError(() => parseTemplate('x-${}'));
    expect(e.message).toMatch(/unexpected "}"/);
    expect(e.offset).toBe(4);
  });

  it('reports trailing garbage', () => {
    const e = syntaxError(() => parseCondition("${parameters.severity} == 'critical' extra"));
    expect(e.message).toMatch(/unexpected "extra"/);
    expect(e.offset).toBe(37);
    expect(syntaxError(() => parseTemplate('${a b}')).offset).toBe(4);
    expect(syntaxError(() => parseCondition('a == b == c')).offset).toBe(7);
    expect(syntaxError(() => parseCondition('ceph_replication_lag < 60s')).offset).toBe(25);
  });

  it('reports == ==', () => {
    const e = syntaxError(() => parseCondition('a == == b'));
    expect(e.message).toMatch(/unexpected "="/);
    expect(e.offset).toBe(5);
  });

  it('reports other malformed input', () => {
    for (const src of ['', '   ', '(a', '[1, 2', '[1,]', 'a[', 'a[x]', 'a.', 'a.1', '!', 'a &&', '|| a', 'a in', '$', '-', '@']) {
      syntaxError(() => parseCondition(src));
    }
    for (const src of ['${', '${a', '${a.}', '${a[0}', "${'x}", '${a}${']) {
      syntaxError(() => parseTemplate(src));
    }
  });

  it('includes the offset in the message', () => {
    expect(syntaxError(() => parseCondition('a == == b')).message).toMatch(/at offset 5$/);
  });

  it('rejects a too long expression', () => {
    expect(syntaxError(() => parseCondition(`a == '${'x'.repeat(9000)}'`)).message).toMatch(/longer than/);
    expect(syntaxError(() => parseTemplate(`\${a} ${'x'.repeat(9000)}`)).message).toMatch(/longer than/);
    // Plain text of any length is not an expression.
    expect(parseTemplate('x'.repeat(20000)).parts).toHaveLength(1);
  });
});

describe('depth limit', () => {
  it('rejects deep nesting with ExpressionSyntaxError, not a stack overflow', () => {
    const n = 4000;
    for (const src of [`${'('.repeat(n)}a${')'.repeat(n)}`, `${'!'.repeat(n)}a`, `${'['.repeat(n)}${']'.repeat(n)}`]) {
      expect(syntaxError(() => parseCondition(src)).message).toMatch(/nested deeper than 64/);
    }
    expect(syntaxError(() => parseTemplate(`${'${'.repeat(2000)}a${'}'.repeat(2000)}`)).message).toMatch(/nested deeper/);
  });

  it('accepts reasonable nesting', () => {
    expect(cond(`${'('.repeat(30)}true${')'.repeat(30)}`)).toBe(true);
    expect(cond(`${'!'.repeat(30)}true`)).toBe(true);
  });

  it('keeps a long flat chain shallow and evaluates it', () => {
    const src = Array.from({ length: 1100 }, (_, i) => `x==${i % 9}`).join('||');
    const e = parseCondition(src);
    expect(height(e)).toBeLessThan(20);
    expect(collectRefs(e)).toHaveLength(1100);
    expect(evaluateCondition(e, () => 8)).toBe(true);
    expect(evaluateCondition(e, () => 9)).toBe(false);
    const and = parseCondition(Array.from({ length: 2700 }, () => 'a').join('&&'));
    expect(height(and)).toBeLessThan(20);
    expect(evaluate(and, () => true)).toBe(true);
  });

  it('refuses to resolve a value nested too deeply', () => {
    let v: unknown = 'x';
    for (let i = 0; i < 300; i++) v = [v];
    expect(() => resolveValue(v, resolve)).toThrow(ExpressionEvalError);
  });
});

describe('collectRefs', () => {
  it('lists every reference in source order', () => {
    const e = parseCondition(
      "${parameters.affected_resource.type} == 'node' || (!${a.b} && x in [${deploy.handoff_data.node_ports[0]}, 'y'])",
    );
    expect(collectRefs(e).map((r) => r.text)).toEqual([
      'parameters.affected_resource.type',
      'a.b',
      'x',
      'deploy.handoff_data.node_ports[0]',
    ]);
  });

  it('returns nothing for literals', () => {
    expect(collectRefs(parseCondition("1 == 'a'"))).toEqual([]);
  });

  it('appends to a given array', () => {
    const out = collectRefs(parseCondition('a'));
    collectRefs(parseCondition('b'), out);
    expect(out.map((r) => r.path)).toEqual([['a'], ['b']]);
  });
});

describe('getPath', () => {
  it('walks objects and arrays', () => {
    expect(getPath(scope, ['parameters', 'affected_resource', 'type'])).toBe('node');
    expect(getPath(scope, ['deploy', 'handoff_data', 'node_ports', 1])).toBe(30443);
    expect(getPath(scope, [])).toBe(scope);
  });

  it('returns undefined for any missing step', () => {
    expect(getPath(scope, ['parameters', 'nope', 'deeper'])).toBeUndefined();
    expect(getPath(scope, ['deploy', 'handoff_data', 'node_ports', 5])).toBeUndefined();
    expect(getPath(scope, ['parameters', 'replicas', 'x'])).toBeUndefined();
    expect(getPath(scope, ['parameters', 'nothing', 'x'])).toBeUndefined();
    expect(getPath(null, ['a'])).toBeUndefined();
  });

  it('does not index strings, or objects by number, or arrays by name', () => {
    expect(getPath(scope, ['parameters', 'repository', 0])).toBeUndefined();
    expect(getPath(scope, ['parameters', 'repository', 'length'])).toBeUndefined();
    expect(getPath(scope, ['parameters', 'tags', 'length'])).toBeUndefined();
    expect(getPath({ a: { 0: 'x' } }, ['a', 0])).toBeUndefined();
  });

  it('ignores prototype properties', () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(getPath(scope, ['parameters', name])).toBeUndefined();
      expect(render(`\${parameters.${name}}`)).toBeUndefined();
    }
    expect(render('${parameters.constructor.name}')).toBeUndefined();
    expect(render('${parameters.tags.map}')).toBeUndefined();
    expect(cond('${parameters.__proto__} == null')).toBe(true);
  });

  it('reads an own __proto__ key that came from JSON', () => {
    const data: unknown = JSON.parse('{"__proto__": {"x": 1}}');
    expect(getPath(data, ['__proto__', 'x'])).toBe(1);
  });
});

describe('resolveValue', () => {
  it('resolves every string in nested objects and arrays, keeping whole-value types', () => {
    const input = {
      replicas: '${parameters.replicas}',
      image: 'harbor.cortex.local/${parameters.repository}:${parameters.image_tag}',
      servers: '${deploy.handoff_data.pod_ips}',
      nested: { list: ['${parameters.severity}', 'literal', 5, true, null, { port: '${deploy.handoff_data.node_ports[0]}' }] },
      '${not.a.key}': 'keys are not templated',
      escaped: '$${HOME}',
    };
    const before = structuredClone(input);
    expect(resolveValue(input, resolve)).toEqual({
      replicas: 3,
      image: 'harbor.cortex.local/org/app:abc123',
      servers: ['10.1.0.1', '10.1.0.2'],
      nested: { list: ['critical', 'literal', 5, true, null, { port: 30080 }] },
      '${not.a.key}': 'keys are not templated',
      escaped: '${HOME}',
    });
    expect(input).toEqual(before);
  });

  it('passes non-string scalars through', () => {
    expect(resolveValue(5, resolve)).toBe(5);
    expect(resolveValue(null, resolve)).toBeNull();
    expect(resolveValue(false, resolve)).toBe(false);
    expect(resolveValue('plain', resolve)).toBe('plain');
  });

  it('keeps a "__proto__" key as a key and never changes the prototype', () => {
    const input: unknown = JSON.parse('{"__proto__": {"polluted": "${parameters.severity}"}, "a": 1}');
    const out = resolveValue(input, resolve) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toEqual(['__proto__', 'a']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ polluted: 'critical' });
    expect((out as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('propagates syntax errors of embedded expressions', () => {
    expect(() => resolveValue({ a: ['${oops'] }, resolve)).toThrow(ExpressionSyntaxError);
  });
});

describe('deepEqual and formatPath', () => {
  it('compares JSON values structurally', () => {
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(deepEqual(null, {})).toBe(false);
    expect(deepEqual(1, '1')).toBe(false);
  });

  it('does not mistake a missing key for an undefined one', () => {
    expect(deepEqual({ a: undefined }, { b: undefined })).toBe(false);
    expect(deepEqual({ constructor: undefined }, { other: 1 })).toBe(false);
  });

  it('prints paths that parse back to the same path', () => {
    const paths: PathSegment[][] = [
      ['parameters', 'replicas'],
      ['clone-repo', 'output', 'path'],
      ['deploy', 'handoff_data', 'node_ports', 0],
      ['a', 'odd key', "it's", 'back\\slash', 'dot.ted', ''],
    ];
    for (const p of paths) expect(refPath(`\${${formatPath(p)}}`)).toEqual(p);
    expect(formatPath(['deploy', 'handoff_data', 'node_ports', 0])).toBe('deploy.handoff_data.node_ports[0]');
  });
});
