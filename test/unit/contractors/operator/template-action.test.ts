import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../../src/config/config.js';
import { resolveConfig } from '../../../../src/config/config.js';
import type { ActionImpl } from '../../../../src/contractors/action-impl.js';
import { operatorImplementation } from '../../../../src/contractors/operator/template-action.js';
import type { ActionSpec } from '../../../../src/model/catalogue.js';
import { ActionFailedError } from '../../../../src/errors.js';
import { fakeDeps, MapSecretSource, type Reply } from '../../../fakes/fakes.js';
import { makeRuntime } from '../runtime-helper.js';
import { load } from './helpers.js';

/** Loads one action (YAML body of an `actions:` item, indented 4 spaces) of contractor `ops-contractor`. */
async function action(body: string): Promise<{ spec: ActionSpec; impl: ActionImpl }> {
  const cat = await load({ 'ops.yaml': `contractor: ops-contractor\nactions:\n  - name: the_action\n    summary: test\n${body}` });
  const spec = cat.get('ops-contractor', 'the_action') as ActionSpec;
  return { spec, impl: operatorImplementation(spec) as ActionImpl };
}

interface RunOptions {
  reply?: Reply;
  command?: string;
  config?: ConfigFile;
  secrets?: Record<string, string>;
}

async function run(a: { spec: ActionSpec; impl: ActionImpl }, params: Record<string, unknown>, o: RunOptions = {}) {
  const deps = fakeDeps({ secrets: new MapSecretSource(o.secrets ?? {}) });
  deps.runner.on(o.command ?? 'lbctl', [], o.reply ?? { stdout: 'ok\n' });
  const t = makeRuntime(params, { spec: a.spec, deps, ...(o.config ? { config: o.config } : {}) });
  try {
    const outputs = await a.impl.run(t.rt);
    return { outputs, calls: deps.runner.calls, attempt: t.attempt, deps };
  } finally {
    t.dispose();
  }
}

async function failure(p: Promise<unknown>): Promise<ActionFailedError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ActionFailedError);
  return e as ActionFailedError;
}

const HOST = `    parameters:
      type: object
      additionalProperties: false
      properties:
        host: { type: string }
        port: { type: integer, default: 8404 }
        tags: { type: array, items: { type: string } }
        opts: { type: object }
        namespace: { type: string }
        debug: { type: boolean, default: false }
      required: [host]
`;

describe('operator actions: argv rendering', () => {
  it('renders each element to exactly one argument: a shell injection attempt stays one argument', async () => {
    const a = await action(`    argv: [lbctl, "root@\${params.host}", "\${params.host}", --port, "\${params.port}"]\n${HOST}`);
    for (const host of ['; rm -rf /', '$(reboot)', 'a b  c', "'quoted' \"double\"", '`id`', 'x\ny', '*']) {
      const { calls } = await run(a, { host });
      expect(calls).toHaveLength(1);
      expect(calls[0]?.command).toBe('lbctl');
      expect(calls[0]?.args).toEqual([`root@${host}`, host, '--port', '8404']);
    }
  });

  it('lists and objects become one JSON argument; numbers and booleans their text', async () => {
    const a = await action(`    argv: [lbctl, "\${params.tags}", "tags=\${params.tags}", "\${params.opts}", "\${params.debug}", 7, true]\n${HOST}`);
    const { calls } = await run(a, { host: 'h', tags: ['a', 'b c'], opts: { k: 'v; rm' } });
    expect(calls[0]?.args).toEqual(['["a","b c"]', 'tags=["a","b c"]', '{"k":"v; rm"}', 'false', '7', 'true']);
  });

  it('a `when` group is included only when its condition holds', async () => {
    const a = await action(
      `    argv: [lbctl, status, { when: "\${params.namespace}", args: [-n, "\${params.namespace}"] }, { when: "\${params.debug} == true", args: [--debug] }]\n${HOST}`,
    );
    expect((await run(a, { host: 'h' })).calls[0]?.args).toEqual(['status']);
    expect((await run(a, { host: 'h', namespace: 'prod', debug: true })).calls[0]?.args).toEqual(['status', '-n', 'prod', '--debug']);
  });

  it('a parameter without a value is an error, never an empty argument', async () => {
    const a = await action(`    argv: [lbctl, -n, "\${params.namespace}"]\n${HOST}`);
    const e = await failure(run(a, { host: 'h' }));
    expect(e.errorCode).toBe('invalid_parameters');
    expect(e.message).toBe('ops-contractor/the_action: ${params.namespace} has no value: parameter "namespace" was not given and has no default');
  });

  it('a configured tool gets its configured command line (tool:, or argv[0] naming the tool)', async () => {
    const config: ConfigFile = { tools: { kubectl: ['ssh', 'bastion', 'kubectl'] } };
    for (const body of [`    tool: kubectl\n    argv: [get, pods, -n, "\${params.namespace}"]\n`, `    argv: [kubectl, get, pods, -n, "\${params.namespace}"]\n`]) {
      const a = await action(`${body}${HOST}`);
      expect(a.spec.uses).toEqual(['kubectl']);
      const { calls, attempt } = await run(a, { host: 'h', namespace: 'prod; ls' }, { command: 'ssh', config });
      // Through ssh the remote shell re-parses the words: the ones cortex appends are quoted for it.
      expect(calls[0]).toMatchObject({ command: 'ssh', args: ['bastion', 'kubectl', 'get', 'pods', '-n', "'prod; ls'"] });
      expect(attempt.invocations?.[0]?.command).toEqual(['ssh', 'bastion', 'kubectl', 'get', 'pods', '-n', "'prod; ls'"]);
    }
  });

  it('a program given as tool: gets argv as its arguments', async () => {
    const a = await action(`    tool: /usr/local/bin/lbctl\n    argv: [status]\n`);
    const { calls } = await run(a, {}, { command: '/usr/local/bin/lbctl' });
    expect(calls[0]).toMatchObject({ command: '/usr/local/bin/lbctl', args: ['status'] });
  });

  it('renders stdin and env, reads secrets (masked in the record), caps the invocation at timeout_seconds', async () => {
    const a = await action(
      `    argv: [lbctl, apply, "--token=\${secrets.LB_TOKEN}"]\n    stdin: "backend \${params.host}:\${params.port}\\n"\n    env: { LB_HOST: "\${params.host}" }\n    timeout_seconds: 60\n${HOST}`,
    );
    const { calls, attempt } = await run(a, { host: 'web-1' }, { secrets: { LB_TOKEN: 's3cr3t-token' } });
    expect(calls[0]?.args).toEqual(['apply', '--token=s3cr3t-token']);
    expect(calls[0]?.options).toMatchObject({ input: 'backend web-1:8404\n', timeoutMs: 60_000 });
    expect(calls[0]?.options?.env).toMatchObject({ LB_HOST: 'web-1' });
    expect(attempt.invocations?.[0]?.command).toEqual(['lbctl', 'apply', '--token=***']);
  });

  it('plan() shows the rendered command line, secrets as ***, stdin and the success rule', async () => {
    const a = await action(
      `    argv: [lbctl, "root@\${params.host}", "--token=\${secrets.LB_TOKEN}"]\n    stdin: "\${params.host}"\n    success: { exit_codes: [0, 3], condition: "\${output.stdout} != 'down'" }\n    timeout_seconds: 30\n${HOST}`,
    );
    const ctx = { config: resolveConfig({}, {}, null), executionId: 'e', workflowId: 'w', actionId: 'a', contractor: 'ops-contractor' };
    expect(a.impl.plan({ host: '; rm -rf /', port: 1 }, ctx)).toEqual([
      {
        kind: 'command',
        tool: 'lbctl',
        args: ['root@; rm -rf /', '--token=***'],
        stdin: '; rm -rf /',
        note: "operator action (contractors/ops.yaml); succeeds on exit code 0/3 and ${output.stdout} != 'down'; timeout 30s",
      },
    ]);
    // Values known only at run time pass through as placeholders.
    expect(a.impl.plan({ host: '<provision.output.ip>' }, ctx)[0]).toMatchObject({ args: ['root@<provision.output.ip>', '--token=***'] });
  });
});

describe('operator actions: output formats', () => {
  it('text (default): stdout without trailing whitespace, and the exit code', async () => {
    const a = await action(`    argv: [lbctl]\n`);
    expect((await run(a, {}, { reply: { stdout: 'all good\n\n' } })).outputs).toEqual({ exit_code: 0, stdout: 'all good' });
  });

  it('json: the whole document, or the mapped paths', async () => {
    const doc = { items: [{ metadata: { name: 'web-1' }, status: { phase: 'Running' } }], 'odd key': 1 };
    const whole = await action(`    argv: [lbctl]\n    output: { format: json }\n`);
    expect((await run(whole, {}, { reply: { stdout: JSON.stringify(doc) } })).outputs).toEqual({ exit_code: 0, json: doc });
    const mapped = await action(
      `    argv: [lbctl]\n    output: { format: json, map: { name: "items[0].metadata.name", phase: { path: "items[0].status.phase", description: Pod phase }, odd: "['odd key']", missing: "items[3].x", all: "." } }\n`,
    );
    expect(mapped.spec.outputs.phase).toBe('Pod phase');
    expect((await run(mapped, {}, { reply: { stdout: JSON.stringify(doc) } })).outputs).toEqual({ exit_code: 0, name: 'web-1', phase: 'Running', odd: 1, missing: null, all: doc });
  });

  it('json: empty output is null; a stream of documents (talosctl get -o json) is a list', async () => {
    const a = await action(`    argv: [lbctl]\n    output: { format: json }\n`);
    expect((await run(a, {}, { reply: { stdout: '\n' } })).outputs).toEqual({ exit_code: 0, json: null });
    const stream = '{\n    "node": "10.0.0.1",\n    "spec": {"a": "}"}\n}\n{\n    "node": "10.0.0.2",\n    "spec": {}\n}\n';
    expect((await run(a, {}, { reply: { stdout: stream } })).outputs).toEqual({ exit_code: 0, json: [{ node: '10.0.0.1', spec: { a: '}' } }, { node: '10.0.0.2', spec: {} }] });
  });

  it('json: output that is not JSON fails with bad_output', async () => {
    const a = await action(`    argv: [lbctl]\n    output: { format: json }\n`);
    const e = await failure(run(a, {}, { reply: { stdout: 'Error: something\n' } }));
    expect(e.errorCode).toBe('bad_output');
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/^ops-contractor\/the_action: standard output is not JSON/);
  });

  it('lines: the non-empty lines, or mapped line indexes', async () => {
    const a = await action(`    argv: [lbctl]\n    output: { format: lines }\n`);
    expect((await run(a, {}, { reply: { stdout: 'web-1  \r\n\nweb-2\n' } })).outputs).toEqual({ exit_code: 0, lines: ['web-1', 'web-2'] });
    const m = await action(`    argv: [lbctl]\n    output: { format: lines, map: { first: "[0]", third: "[2]" } }\n`);
    expect((await run(m, {}, { reply: { stdout: 'web-1\nweb-2\n' } })).outputs).toEqual({ exit_code: 0, first: 'web-1', third: null });
  });

  it('none: only the exit code', async () => {
    const a = await action(`    argv: [lbctl]\n    output: { format: none }\n`);
    expect((await run(a, {}, { reply: { stdout: 'noise' } })).outputs).toEqual({ exit_code: 0 });
  });
});

describe('operator actions: success decision', () => {
  it('an exit code outside success.exit_codes fails with operator_action_failed and the stderr tail', async () => {
    const a = await action(`    argv: [lbctl]\n`);
    const e = await failure(run(a, {}, { reply: { exitCode: 2, stderr: 'line 1\nline 2\nERROR: backend web-1 unknown\n' } }));
    expect(e.errorCode).toBe('operator_action_failed');
    expect(e.retryable).toBe(true);
    expect(e.exitStatus).toBe(2);
    expect(e.message).toBe('ops-contractor/the_action: lbctl failed (exit 2; success is exit 0): line 1 | line 2 | ERROR: backend web-1 unknown');
  });

  it('exit codes, error code, retryable and hint are configurable', async () => {
    const a = await action(`    argv: [lbctl]\n    success: { exit_codes: [0, 3] }\n    failure: { error_code: haproxy_restart_failed, retryable: false, hint: check the LB VM console }\n`);
    expect((await run(a, {}, { reply: { exitCode: 3, stdout: 'already running' } })).outputs).toEqual({ exit_code: 3, stdout: 'already running' });
    const e = await failure(run(a, {}, { reply: { exitCode: 1 } }));
    expect(e).toMatchObject({ errorCode: 'haproxy_restart_failed', retryable: false, hint: 'check the LB VM console' });
  });

  it('the success condition reads the outputs and parameters; false says which values made it so', async () => {
    const a = await action(
      `    argv: [lbctl]\n    parameters: { type: object, properties: { want: { type: string, default: ok } } }\n    output: { format: json, map: { status: status, count: "backends.count" } }\n    success: { condition: "\${output.status} == \${params.want} && \${output.count} > 0" }\n`,
    );
    expect((await run(a, {}, { reply: { stdout: '{"status":"ok","backends":{"count":2}}' } })).outputs).toEqual({ exit_code: 0, status: 'ok', count: 2 });
    const e = await failure(run(a, {}, { reply: { stdout: '{"status":"degraded","backends":{"count":2}}' } }));
    expect(e.errorCode).toBe('operator_action_failed');
    expect(e.message).toBe(`ops-contractor/the_action: success condition \${output.status} == \${params.want} && \${output.count} > 0 is false (output.status = "degraded", params.want = "ok", output.count = 2)`);
    const bad = await failure(run(a, {}, { reply: { stdout: '{"status":"ok"}' } }));
    expect(bad.message).toMatch(/success condition .* could not be evaluated: cannot compare null > number 0/);
  });

  it('a timeout_seconds that expires fails with action_timeout (retryable)', async () => {
    const a = await action(`    argv: [lbctl]\n    timeout_seconds: 5\n`);
    const e = await failure(run(a, {}, { reply: { exitCode: null, signal: 'SIGTERM', timedOut: true } }));
    expect(e).toMatchObject({ errorCode: 'action_timeout', retryable: true });
    expect(e.message).toBe('ops-contractor/the_action: lbctl timed out after 5s (timeout_seconds; process group killed)');
  });

  it('an operator spec the loader did not produce has no implementation', () => {
    const spec: ActionSpec = { contractor: 'x', name: 'y', summary: '', kind: 'tool', uses: [], parameters: { type: 'object' }, outputs: {}, idempotent: false, operatorDefined: true };
    expect(operatorImplementation(spec)).toBeUndefined();
  });
});
