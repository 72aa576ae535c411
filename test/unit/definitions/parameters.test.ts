import { readFileSync } from 'node:fs';
import { beforeAll, describe, it, expect } from 'vitest';
import { ParametersInvalidError, UsageError, ExitCode, type Issue } from '../../../src/errors.js';
import type { ParamSpec, WorkflowDefinition } from '../../../src/definitions/types.js';
import {
  checkDefaults,
  coerce,
  maskParameters,
  parseParamAssignments,
  resolveParameters,
  secretParameterValues,
  type ParametersInput,
} from '../../../src/definitions/parameters.js';
import { evaluateCondition, getPath } from '../../../src/definitions/expression-eval.js';
import { HAVE_SHARED, describeWithShared, itWithShared, referencePath } from '../../helpers/shared.js';

function loadReference(name: string): WorkflowDefinition {
  return JSON.parse(readFileSync(referencePath(name), 'utf8')) as WorkflowDefinition;
}

// The upstream reference templates: only the tests declared with itWithShared/describeWithShared use them.
let incident: WorkflowDefinition;
let deployment: WorkflowDefinition;
beforeAll(() => {
  if (!HAVE_SHARED) return;
  incident = loadReference('incident-response-workflow.json');
  deployment = loadReference('deployment-workflow.json');
});

function def(parameters: Record<string, ParamSpec>, workflow_id = 'test-wf'): WorkflowDefinition {
  return { workflow_id, workflow_name: 'Test', version: '1.0.0', phases: [], parameters };
}

/** The issues of the ParametersInvalidError that resolveParameters throws. */
function issuesOf(d: WorkflowDefinition, input: ParametersInput): Issue[] {
  try {
    resolveParameters(d, input);
  } catch (e) {
    expect(e).toBeInstanceOf(ParametersInvalidError);
    return (e as ParametersInvalidError).issues;
  }
  throw new Error('expected ParametersInvalidError');
}

function issueAt(issues: Issue[], pointer: string): Issue {
  const found = issues.filter((i) => i.pointer === pointer);
  expect(found, `issues at ${pointer}: ${JSON.stringify(issues)}`).toHaveLength(1);
  return found[0] as Issue;
}

const validIncident = [
  'incident_type=node_compromise',
  'severity=critical',
  'affected_resource.type=node',
  'affected_resource.identifier=worker-3',
  'initial_indicators={"source":"falco","rule_triggered":"Terminal shell in container"}',
];

describe('parseParamAssignments', () => {
  it('splits at the first =', () => {
    expect(parseParamAssignments(['replicas=3', 'cmd=a=b=c', 'empty=', 'affected_resource.type=node'])).toEqual([
      { key: 'replicas', raw: '3' },
      { key: 'cmd', raw: 'a=b=c' },
      { key: 'empty', raw: '' },
      { key: 'affected_resource.type', raw: 'node' },
    ]);
  });

  it('keeps spaces in the value and trims the name', () => {
    expect(parseParamAssignments([' branch = main '])).toEqual([{ key: 'branch', raw: ' main ' }]);
  });

  it('rejects a missing =, an empty name and an empty part of a dotted name', () => {
    expect(() => parseParamAssignments(['replicas'])).toThrow(UsageError);
    expect(() => parseParamAssignments(['replicas'])).toThrow(/-p "replicas": expected key=value/);
    expect(() => parseParamAssignments(['=3'])).toThrow(/empty name/);
    expect(() => parseParamAssignments(['a..b=1'])).toThrow(/empty part/);
    expect(() => parseParamAssignments(['.a=1'])).toThrow(/empty part/);
  });

  it('lists every malformed option at once', () => {
    try {
      parseParamAssignments(['ok=1', 'bad', '=x']);
      throw new Error('expected UsageError');
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).message).toMatch(/^2 malformed -p options:/);
      expect((e as UsageError).exitCode).toBe(ExitCode.INVALID_INPUT);
    }
  });

  it('accepts an empty list', () => {
    expect(parseParamAssignments([])).toEqual([]);
  });
});

describe('coerce', () => {
  const spec = (type: ParamSpec['type'], extra: Partial<ParamSpec> = {}): ParamSpec => ({ type, ...extra });

  it('keeps strings as they are', () => {
    expect(coerce(' a b ', spec('string'))).toEqual({ ok: true, value: ' a b ' });
    expect(coerce('3', spec('string'))).toEqual({ ok: true, value: '3' });
    expect(coerce('${GIT_SHA}', spec('string'))).toEqual({ ok: true, value: '${GIT_SHA}' });
  });

  it('accepts only safe integers for integer', () => {
    expect(coerce('3', spec('integer'))).toEqual({ ok: true, value: 3 });
    expect(coerce(' -42 ', spec('integer'))).toEqual({ ok: true, value: -42 });
    expect(coerce('+7', spec('integer'))).toEqual({ ok: true, value: 7 });
    expect(coerce('3.5', spec('integer'))).toEqual({ ok: false, message: 'expected integer, got "3.5"' });
    expect(coerce('abc', spec('integer'))).toEqual({ ok: false, message: 'expected integer, got "abc"' });
    for (const bad of ['', '1e3', '0x10', '3.0', 'Infinity', '1 2']) expect(coerce(bad, spec('integer')).ok).toBe(false);
    const big = coerce('9007199254740993', spec('integer'));
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.message).toMatch(/safe integer range/);
  });

  it('accepts decimal notation for number', () => {
    expect(coerce('3.5', spec('number'))).toEqual({ ok: true, value: 3.5 });
    expect(coerce('-1e3', spec('number'))).toEqual({ ok: true, value: -1000 });
    expect(coerce('.5', spec('number'))).toEqual({ ok: true, value: 0.5 });
    for (const bad of ['', 'abc', 'Infinity', 'NaN', '0x10', '1e999', '1,5']) {
      expect(coerce(bad, spec('number'))).toEqual({ ok: false, message: `expected number, got ${JSON.stringify(bad)}` });
    }
  });

  it('reads true/false/yes/no/1/0 in any case for boolean', () => {
    for (const t of ['true', 'TRUE', 'Yes', 'yes', '1', ' true ']) expect(coerce(t, spec('boolean'))).toEqual({ ok: true, value: true });
    for (const f of ['false', 'False', 'NO', 'no', '0']) expect(coerce(f, spec('boolean'))).toEqual({ ok: true, value: false });
    const r = coerce('maybe', spec('boolean'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe('expected boolean, got "maybe" (use true/false, yes/no or 1/0)');
    expect(coerce('on', spec('boolean')).ok).toBe(false);
    expect(coerce('constructor', spec('boolean')).ok).toBe(false);
  });

  it('parses arrays and objects as JSON of that type', () => {
    expect(coerce('[1, "a"]', spec('array'))).toEqual({ ok: true, value: [1, 'a'] });
    expect(coerce('{"type":"node"}', spec('object'))).toEqual({ ok: true, value: { type: 'node' } });
    const notJson = coerce('a,b', spec('array'));
    expect(notJson.ok).toBe(false);
    if (!notJson.ok) expect(notJson.message).toMatch(/^expected array, got "a,b" \(give it as JSON/);
    expect(coerce('[1]', spec('object'))).toEqual({ ok: false, message: 'expected object, got JSON an array' });
    expect(coerce('{}', spec('array')).ok).toBe(false);
    expect(coerce('null', spec('object')).ok).toBe(false);
    expect(coerce('"x"', spec('object')).ok).toBe(false);
  });

  it('never shows the value of a secret', () => {
    const r = coerce('hunter2', spec('integer', { secret: true }));
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.message).not.toContain('hunter2');
      expect(r.message).toMatch(/secret/);
    }
  });
});

describeWithShared('resolveParameters with the incident-response template', () => {
  it('resolves -p assignments, nested dotted keys and defaults', () => {
    const params = resolveParameters(incident, { assignments: validIncident });
    expect(params).toEqual({
      incident_type: 'node_compromise',
      severity: 'critical',
      affected_resource: { type: 'node', identifier: 'worker-3' },
      initial_indicators: { source: 'falco', rule_triggered: 'Terminal shell in container' },
      auto_containment: true,
    });
  });

  it('feeds the template conditions', () => {
    const parameters = resolveParameters(incident, { assignments: validIncident });
    const resolve = (path: readonly (string | number)[]): unknown => getPath({ parameters }, path);
    expect(evaluateCondition("${parameters.affected_resource.type} in ['node', 'pod']", resolve)).toBe(true);
    expect(evaluateCondition("${parameters.severity} == 'critical'", resolve)).toBe(true);
  });

  it('reports every missing required parameter at once', () => {
    const issues = issuesOf(incident, {});
    expect(issues.map((i) => i.pointer).sort()).toEqual(['/affected_resource', '/incident_type', '/initial_indicators', '/severity']);
    for (const i of issues) expect(i.message).toBe('missing required parameter');
  });

  it('does not require nested properties that do not say so', () => {
    const params = resolveParameters(incident, {
      assignments: ['incident_type=malware_detection', 'severity=low', 'affected_resource={}', 'initial_indicators={}'],
    });
    expect(params.affected_resource).toEqual({});
  });

  it('checks the enum of a nested property', () => {
    const issues = issuesOf(incident, { assignments: [...validIncident, 'affected_resource.type=toaster'] });
    expect(issues).toHaveLength(1);
    const issue = issueAt(issues, '/affected_resource/type');
    expect(issue.message).toContain('expected one of "node", "pod", "vm", "network"');
    expect(issue.message).toContain('got "toaster"');
  });

  it('checks a top-level enum', () => {
    const issue = issueAt(issuesOf(incident, { assignments: [...validIncident, 'severity=urgent'] }), '/severity');
    expect(issue.message).toBe('expected one of "low", "medium", "high", "critical", got "urgent"');
  });

  it('rejects an unknown top-level parameter, naming the declared ones', () => {
    const issue = issueAt(issuesOf(incident, { assignments: [...validIncident, 'severty=high'] }), '/severty');
    expect(issue.message).toContain(
      'unknown parameter "severty" (declared: incident_type, severity, affected_resource, initial_indicators, auto_containment)',
    );
    expect(issue.message).toContain('did you mean "severity"?');
  });

  it('allows unknown keys inside an object parameter', () => {
    const params = resolveParameters(incident, { assignments: [...validIncident, 'affected_resource.zone=eu-1', 'affected_resource.labels.tier=db'] });
    expect(params.affected_resource).toEqual({ type: 'node', identifier: 'worker-3', zone: 'eu-1', labels: { tier: 'db' } });
  });

  it('rejects a dotted key below a parameter that is not an object', () => {
    const issues = issuesOf(incident, { assignments: [...validIncident, 'severity.level=1'] });
    expect(issues).toHaveLength(1);
    expect(issueAt(issues, '/severity/level').message).toBe('cannot set "severity.level": "severity" is declared string, not object');
    const deeper = issuesOf(incident, { assignments: [...validIncident, 'affected_resource.type.x=1'] });
    expect(issueAt(deeper, '/affected_resource/type/x').message).toMatch(/"affected_resource.type" is declared string/);
  });

  it('checks the type of a whole object given with -p', () => {
    const issue = issueAt(issuesOf(incident, { assignments: [...validIncident, 'initial_indicators=falco'] }), '/initial_indicators');
    expect(issue.message).toMatch(/^expected object, got "falco"/);
  });

  it('takes -p over values over the file over defaults', () => {
    const file = { incident_type: 'node_compromise', severity: 'low', affected_resource: { type: 'pod' }, initial_indicators: {}, auto_containment: false };
    expect(resolveParameters(incident, { file }).severity).toBe('low');
    expect(resolveParameters(incident, { file }).auto_containment).toBe(false);
    expect(resolveParameters(incident, { file, values: { severity: 'medium' } }).severity).toBe('medium');
    expect(resolveParameters(incident, { file, values: { severity: 'medium' }, assignments: ['severity=high'] }).severity).toBe('high');
  });

  it('merges a nested -p into the object from the file without mutating it', () => {
    const file = {
      incident_type: 'container_breakout',
      severity: 'high',
      affected_resource: { type: 'pod', identifier: 'web-7d9', cluster: 'prod' },
      initial_indicators: { source: 'falco' },
    };
    const before = structuredClone(file);
    const params = resolveParameters(incident, { file, assignments: ['affected_resource.type=node'] });
    expect(params.affected_resource).toEqual({ type: 'node', identifier: 'web-7d9', cluster: 'prod' });
    expect(file).toEqual(before);
  });

  it('lets a whole-object -p replace the file object, and later -p win', () => {
    const file = { incident_type: 'container_breakout', severity: 'high', affected_resource: { type: 'pod', identifier: 'x' }, initial_indicators: {} };
    const params = resolveParameters(incident, {
      file,
      assignments: ['affected_resource={"type":"vm"}', 'affected_resource.identifier=vm-101', 'severity=low', 'severity=medium'],
    });
    expect(params.affected_resource).toEqual({ type: 'vm', identifier: 'vm-101' });
    expect(params.severity).toBe('medium');
  });

  it('checks nested values from the file and names the file', () => {
    const file = {
      incident_type: 'node_compromise',
      severity: 'critical',
      affected_resource: { type: 'toaster', identifier: 42 },
      initial_indicators: 'falco',
      auto_containment: 'yes',
    };
    const issues = issuesOf(incident, { file, fileName: 'params.yaml' });
    expect(issues).toHaveLength(4);
    expect(issueAt(issues, '/affected_resource/type').message).toMatch(/^expected one of/);
    expect(issueAt(issues, '/affected_resource/identifier').message).toBe('expected string, got number 42');
    expect(issueAt(issues, '/initial_indicators').message).toBe('expected object, got string "falco"');
    expect(issueAt(issues, '/auto_containment').message).toBe('expected boolean, got string "yes"');
    for (const i of issues) expect(i.file).toBe('params.yaml');
  });

  it('reports null as null', () => {
    const issues = issuesOf(incident, { values: { incident_type: null } });
    expect(issueAt(issues, '/incident_type').message).toBe('expected string, got null');
  });

  it('collects assignment syntax errors with the other problems', () => {
    const issues = issuesOf(incident, { assignments: ['severity', '=x', 'incident_type=node_compromise'] });
    expect(issues.filter((i) => i.pointer === undefined).map((i) => i.message)).toEqual([
      '-p "severity": expected key=value',
      '-p with an empty name before "=": write -p name=value',
    ]);
    expect(issues.some((i) => i.pointer === '/severity' && i.message === 'missing required parameter')).toBe(true);
  });

  it('keeps a "__proto__" key as data', () => {
    const params = resolveParameters(incident, { assignments: [...validIncident, 'affected_resource.__proto__=x'] });
    const resource = params.affected_resource as Record<string, unknown>;
    expect(Object.getPrototypeOf(resource)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(resource, '__proto__')?.value).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(issueAt(issuesOf(incident, { assignments: [...validIncident, '__proto__=x'] }), '/__proto__').message).toMatch(/unknown parameter "__proto__"/);
  });

  it('throws one ParametersInvalidError with the workflow id and exit code 2', () => {
    try {
      resolveParameters(incident, { assignments: ['severity=urgent', 'replica=3'] });
      throw new Error('expected ParametersInvalidError');
    } catch (e) {
      expect(e).toBeInstanceOf(ParametersInvalidError);
      const err = e as ParametersInvalidError;
      expect(err.code).toBe('CORTEX_PARAMETERS_INVALID');
      expect(err.exitCode).toBe(2);
      expect(err.message.split('\n')[0]).toBe(`invalid parameters for workflow "${incident.workflow_id}":`);
      expect(err.message).toContain('/severity: expected one of');
      expect(err.message).toContain('/replica: unknown parameter "replica"');
      expect(err.issues.length).toBeGreaterThanOrEqual(5);
    }
  });
});

describeWithShared('resolveParameters with the deployment template', () => {
  const required = ['repository=org/app', 'environment=staging', 'cluster=talos-prod', 'namespace=app'];

  it('applies defaults and keeps an expression default as is', () => {
    expect(resolveParameters(deployment, { assignments: required })).toEqual({
      repository: 'org/app',
      branch: 'main',
      environment: 'staging',
      cluster: 'talos-prod',
      namespace: 'app',
      image_tag: '${GIT_SHA}',
      replicas: 3,
      require_approval: true,
    });
  });

  it('coerces -p values by declared type', () => {
    const params = resolveParameters(deployment, { assignments: [...required, 'replicas=5', 'require_approval=no', 'image_tag=v1.2.3'] });
    expect(params.replicas).toBe(5);
    expect(params.require_approval).toBe(false);
    expect(params.image_tag).toBe('v1.2.3');
  });

  it('rejects an integer that is not one', () => {
    const issue = issueAt(issuesOf(deployment, { assignments: [...required, 'replicas=abc'] }), '/replicas');
    expect(issue.message).toBe('expected integer, got "abc"');
    expect(issueAt(issuesOf(deployment, { assignments: [...required, 'replicas=3.5'] }), '/replicas').message).toBe(
      'expected integer, got "3.5"',
    );
  });

  it('does not coerce typed file values: "3" for an integer is an error', () => {
    const file = { repository: 'org/app', environment: 'staging', cluster: 'c', namespace: 'n', replicas: '3' };
    const issue = issueAt(issuesOf(deployment, { file, fileName: 'deploy-params.yaml' }), '/replicas');
    expect(issue.message).toBe('expected integer, got string "3"');
    expect(issue.file).toBe('deploy-params.yaml');
    expect(issueAt(issuesOf(deployment, { file: { ...file, replicas: 2.5 } }), '/replicas').message).toBe('expected integer, got number 2.5');
  });

  it('does not treat an operator value as an expression', () => {
    const issue = issueAt(issuesOf(deployment, { assignments: required, values: { replicas: '${parameters.x}' } }), '/replicas');
    expect(issue.message).toBe('expected integer, got string "${parameters.x}"');
  });

  it('lists the declared names for an unknown parameter', () => {
    const issue = issueAt(issuesOf(deployment, { assignments: [...required, 'replica=3'] }), '/replica');
    expect(issue.message).toBe(
      'unknown parameter "replica" (declared: repository, branch, environment, cluster, namespace, image_tag, replicas, require_approval); did you mean "replicas"?',
    );
  });

  it('does not suggest a name that is far off', () => {
    const issue = issueAt(issuesOf(deployment, { assignments: [...required, 'zzz=3'] }), '/zzz');
    expect(issue.message).not.toContain('did you mean');
  });

  it('does not return references into the definition', () => {
    const d = def({ tags: { type: 'array', default: ['a'] } });
    const params = resolveParameters(d, {});
    (params.tags as string[]).push('b');
    expect(d.parameters?.tags?.default).toEqual(['a']);
  });
});

describe('resolveParameters: nested specs, arrays and edge cases', () => {
  const nested = def({
    target: {
      type: 'object',
      required: true,
      properties: {
        host: { type: 'string', required: true },
        port: { type: 'integer', default: 22 },
        tls: { type: 'object', properties: { verify: { type: 'boolean', default: true } } },
      },
    },
    ports: { type: 'array', items: { type: 'integer' } },
    ratio: { type: 'number' },
    hosts: { type: 'array', items: { type: 'object', properties: { name: { type: 'string', required: true }, weight: { type: 'integer', default: 1 } } } },
  });

  it('applies nested property defaults', () => {
    expect(resolveParameters(nested, { assignments: ['target.host=pve01', 'target.tls={}'] })).toEqual({
      target: { host: 'pve01', port: 22, tls: { verify: true } },
    });
  });

  it('reports a nested property marked required', () => {
    const issue = issueAt(issuesOf(nested, { assignments: ['target.port=2222'] }), '/target/host');
    expect(issue.message).toBe('missing required property');
  });

  it('coerces a dotted key with the nested spec', () => {
    expect(resolveParameters(nested, { assignments: ['target.host=h', 'target.port=2222', 'target.tls.verify=no'] }).target).toEqual({
      host: 'h',
      port: 2222,
      tls: { verify: false },
    });
    expect(issueAt(issuesOf(nested, { assignments: ['target.host=h', 'target.port=ssh'] }), '/target/port').message).toBe(
      'expected integer, got "ssh"',
    );
  });

  it('checks array items against the items spec', () => {
    expect(resolveParameters(nested, { assignments: ['target.host=h', 'ports=[80, 443]'] }).ports).toEqual([80, 443]);
    const issues = issuesOf(nested, { assignments: ['target.host=h', 'ports=[80, "x", 1.5]'] });
    expect(issueAt(issues, '/ports/1').message).toBe('expected integer, got string "x"');
    expect(issueAt(issues, '/ports/2').message).toBe('expected integer, got number 1.5');
  });

  it('applies defaults inside array items and checks their required properties', () => {
    expect(resolveParameters(nested, { assignments: ['target.host=h', 'hosts=[{"name":"a"},{"name":"b","weight":5}]'] }).hosts).toEqual([
      { name: 'a', weight: 1 },
      { name: 'b', weight: 5 },
    ]);
    expect(issueAt(issuesOf(nested, { assignments: ['target.host=h', 'hosts=[{}]'] }), '/hosts/0/name').message).toBe('missing required property');
  });

  it('accepts numbers and rejects non-finite ones', () => {
    expect(resolveParameters(nested, { assignments: ['target.host=h', 'ratio=0.25'] }).ratio).toBe(0.25);
    expect(issueAt(issuesOf(nested, { assignments: ['target.host=h'], values: { ratio: Infinity } }), '/ratio').message).toBe(
      'expected number, got number Infinity',
    );
  });

  it('escapes JSON pointer characters', () => {
    const issue = issueAt(issuesOf(nested, { assignments: ['target.host=h'], values: { 'a/b~c': 1 } }), '/a~1b~0c');
    expect(issue.message).toMatch(/^unknown parameter "a\/b~c"/);
  });

  it('says so when the workflow declares no parameters', () => {
    const bare: WorkflowDefinition = { workflow_id: 'bare', workflow_name: 'Bare', version: '1.0.0', phases: [] };
    expect(resolveParameters(bare, {})).toEqual({});
    expect(issueAt(issuesOf(bare, { assignments: ['x=1'] }), '/x').message).toBe('unknown parameter "x" (this workflow declares no parameters)');
  });

  it('rejects a parameters file that is not a mapping', () => {
    const issues = issuesOf(nested, { file: ['a'] as unknown as Record<string, unknown>, fileName: 'p.json', assignments: ['target.host=h'] });
    expect(issues).toEqual([{ file: 'p.json', message: 'a parameters file holds a mapping of parameter names to values, got an array' }]);
  });

  it('ignores undefined values', () => {
    expect(resolveParameters(nested, { assignments: ['target.host=h'], values: { ratio: undefined } })).toEqual({
      target: { host: 'h', port: 22 },
    });
  });

  it('does not echo a secret value in messages', () => {
    const d = def({ token: { type: 'string', secret: true, enum: ['a', 'b'] }, pin: { type: 'integer', secret: true } });
    const issues = issuesOf(d, { values: { token: 'hunter2' }, assignments: ['pin=s3cr3t'] });
    expect(issues).toHaveLength(2);
    for (const i of issues) {
      expect(i.message).not.toContain('hunter2');
      expect(i.message).not.toContain('s3cr3t');
    }
    expect(issueAt(issuesOf(d, { values: { pin: 'hunter2' } }), '/pin').message).toBe('expected integer, got a string (value not shown: secret)');
  });
});

describe('checkDefaults', () => {
  itWithShared('finds nothing wrong in the reference templates', () => {
    expect(checkDefaults(incident)).toEqual([]);
    expect(checkDefaults(deployment)).toEqual([]);
  });

  it('checks the type of every default and skips expression defaults', () => {
    const d = def({
      replicas: { type: 'integer', default: '3' },
      image_tag: { type: 'string', default: '${GIT_SHA}' },
      count: { type: 'integer', default: '${parameters.replicas}' },
      ok: { type: 'boolean', default: false },
    });
    expect(checkDefaults(d)).toEqual([{ pointer: '/parameters/replicas/default', message: 'expected integer, got string "3"' }]);
  });

  it('checks defaults against the enum', () => {
    const d = def({ environment: { type: 'string', enum: ['staging', 'production'], default: 'dev' } });
    expect(checkDefaults(d)).toEqual([
      { pointer: '/parameters/environment/default', message: 'expected one of "staging", "production", got "dev"' },
    ]);
  });

  it('checks nested property defaults and values inside an object default', () => {
    const d = def({
      target: {
        type: 'object',
        default: { port: 'ssh' },
        properties: { port: { type: 'integer' }, tls: { type: 'boolean', default: 'yes' } },
      },
    });
    expect(checkDefaults(d)).toEqual([
      { pointer: '/parameters/target/default/port', message: 'expected integer, got string "ssh"' },
      { pointer: '/parameters/target/default/tls', message: 'expected boolean, got string "yes"' },
      { pointer: '/parameters/target/properties/tls/default', message: 'expected boolean, got string "yes"' },
    ]);
  });

  it('checks the declared type of enum values and array item defaults', () => {
    const d = def({
      level: { type: 'integer', enum: [1, '2', 3] },
      ports: { type: 'array', items: { type: 'integer' }, default: [80, 'http'] },
    });
    expect(checkDefaults(d)).toEqual([
      { pointer: '/parameters/level/enum/1', message: 'enum value "2" is not of the declared type integer' },
      { pointer: '/parameters/ports/default/1', message: 'expected integer, got string "http"' },
    ]);
  });

  it('returns nothing when there are no parameters', () => {
    expect(checkDefaults({ workflow_id: 'x', workflow_name: 'x', version: '1', phases: [] })).toEqual([]);
  });
});

describe('maskParameters', () => {
  const d = def({
    user: { type: 'string' },
    password: { type: 'string', secret: true },
    conn: { type: 'object', properties: { host: { type: 'string' }, token: { type: 'string', secret: true } } },
    keys: { type: 'array', items: { type: 'string', secret: true } },
  });
  const params = {
    user: 'admin',
    password: 'hunter2',
    conn: { host: 'pve01', token: 'abc' },
    keys: ['k1', 'k2'],
    note: 'password is hunter2, api key XYZ-123',
  };

  it('replaces declared secrets, nested ones included, with ***', () => {
    expect(maskParameters(d, params)).toEqual({
      user: 'admin',
      password: '***',
      conn: { host: 'pve01', token: '***' },
      keys: ['***', '***'],
      note: 'password is hunter2, api key XYZ-123',
    });
  });

  it('masks known secret values inside any string', () => {
    const masked = maskParameters(d, params, ['XYZ-123', 'hunter2', '']);
    expect(masked.note).toBe('password is ***, api key ***');
    expect(masked.user).toBe('admin');
  });

  it('does not mutate its input', () => {
    const before = structuredClone(params);
    maskParameters(d, params, ['admin']);
    expect(params).toEqual(before);
  });

  itWithShared('masks the incident template without secrets unchanged', () => {
    const p = resolveParameters(incident, { assignments: validIncident });
    expect(maskParameters(incident, p)).toEqual(p);
  });

  it('secretParameterValues lists the values to mask elsewhere', () => {
    expect(secretParameterValues(d, params).sort()).toEqual(['abc', 'hunter2', 'k1', 'k2']);
  });

  itWithShared('secretParameterValues finds nothing to mask in the incident template', () => {
    expect(secretParameterValues(incident, resolveParameters(incident, { assignments: validIncident }))).toEqual([]);
  });
});
