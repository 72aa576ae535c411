import { describe, expect, it } from 'vitest';
import { actionRec, cmd, harness, phase, workflow } from './engine-helper.js';
import { fakeDeps, ManualClock, MapSecretSource } from '../../fakes/fakes.js';
import { ScaledClock } from '../../../src/adapters/system-clock.js';

function okRunner(deps = fakeDeps()) {
  deps.runner.on('ok', [], { exitCode: 0, stdout: 'fine' });
  deps.runner.on('bad', [], { exitCode: 1, stderr: 'it broke\n' });
  return deps;
}

describe('engine: phases and actions', () => {
  it('runs phases and actions in order and completes', async () => {
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok', '1']), cmd('a2', ['ok', '2'])]), phase('p2', [cmd('a3', ['ok', '3'])])]), { deps: okRunner() });
    const rec = await h.run();
    expect(rec.status).toBe('completed');
    expect(h.deps.runner.calls.map((c) => c.args[0])).toEqual(['1', '2', '3']);
    expect(rec.phases.map((p) => p.status)).toEqual(['completed', 'completed']);
    expect(actionRec(rec, 'a1').outputs).toMatchObject({ exit_code: 0, stdout: 'fine' });
    expect(h.deps.store.history.has(rec.execution_id)).toBe(true);
    expect(h.deps.store.active.has(rec.execution_id)).toBe(false);
    expect(h.deps.store.summaries).toHaveLength(1);
    const kinds = h.deps.events.map((e) => e.kind);
    expect(kinds.filter((k) => k === 'action-end')).toHaveLength(3);
    expect(kinds.at(-1)).toBe('execution-end');
  });

  it('persists the record at every step, never skipping from pending to completed unseen', async () => {
    const h = harness(workflow([phase('p1', [cmd('a1', ['ok'])])]), { deps: okRunner() });
    await h.run();
    const statuses = h.deps.store.writes.map((w) => actionRec(w, 'a1').status);
    expect(statuses).toContain('running');
    expect(statuses.at(-1)).toBe('completed');
  });

  it('skips a phase whose condition is false and records the evaluated condition', async () => {
    const def = workflow(
      [phase('p1', [cmd('a1', ['ok'])], { condition: "${parameters.kind} in ['node', 'pod']" }), phase('p2', [cmd('a2', ['ok'])])],
      { parameters: { kind: { type: 'string' } } },
    );
    const h = harness(def, { deps: okRunner(), params: { kind: 'vm' } });
    const rec = await h.run();
    expect(rec.phases[0]).toMatchObject({ status: 'skipped', condition: { expression: "${parameters.kind} in ['node', 'pod']", value: false } });
    expect(actionRec(rec, 'a1').status).toBe('skipped');
    expect(rec.status).toBe('completed');
    expect(h.deps.runner.calls).toHaveLength(1);
  });

  it('passes whole-value expressions with their type and interpolates inside strings', async () => {
    const deps = okRunner();
    const def = workflow([phase('p1', [{ action_id: 'w', action: 'wait', parameters: { seconds: '${parameters.delay}' }, timeout: 30 }, cmd('a', ['ok', 'n=${parameters.delay}'])])], {
      parameters: { delay: { type: 'integer', default: 2 } },
    });
    const h = harness(def, { deps, params: { delay: 2 } });
    const rec = await h.run();
    expect(actionRec(rec, 'w').parameters).toEqual({ seconds: 2, poll_seconds: 10, timeout_seconds: 600 });
    expect(deps.clock.sleeps).toContain(2000);
    expect(deps.runner.calls[0]?.args).toEqual(['n=2']);
  });
});

describe('engine: on_error', () => {
  const twoPhases = (onError: string) =>
    workflow([phase('p1', [cmd('a1', ['bad'], { on_error: onError }), cmd('a2', ['ok'])]), phase('p2', [cmd('a3', ['ok'])])]);

  it('fail_workflow stops at once with status failed', async () => {
    const h = harness(twoPhases('fail_workflow'), { deps: okRunner() });
    const rec = await h.run();
    expect(rec.status).toBe('failed');
    expect(actionRec(rec, 'a1')).toMatchObject({ status: 'failed', on_error_applied: 'fail_workflow', error: { code: 'command_failed' } });
    expect(actionRec(rec, 'a2').status).toBe('pending');
    expect(rec.phases[0]?.status).toBe('failed');
    expect(rec.error?.message).toContain('it broke');
    expect(rec.rollback_required).toBeUndefined();
  });

  it.each(['rollback', 'rollback_workflow', 'rollback_deployment'])('%s stops and records that a rollback is required', async (onError) => {
    const calls: string[] = [];
    const h = harness(twoPhases(onError), {
      deps: okRunner(),
      rollback: async (_exec, scope, _reason, phaseId) => void calls.push(`${scope}:${phaseId ?? '-'}`),
    });
    const rec = await h.run();
    expect(rec.status).toBe('failed');
    expect(rec.rollback_required).toBe(true);
    expect(calls).toEqual([onError === 'rollback_deployment' ? 'phase:p1' : 'workflow:-']);
    expect(actionRec(rec, 'a2').status).toBe('pending');
  });

  it('skip_action marks the action skipped and goes on', async () => {
    const h = harness(twoPhases('skip_action'), { deps: okRunner() });
    const rec = await h.run();
    expect(rec.status).toBe('completed');
    expect(actionRec(rec, 'a1')).toMatchObject({ status: 'skipped', on_error_applied: 'skip_action' });
    expect(actionRec(rec, 'a1').attempts[0]?.status).toBe('failed');
    expect(actionRec(rec, 'a2').status).toBe('completed');
  });

  it('continue_phase records the failure and goes on with the phase', async () => {
    const h = harness(twoPhases('continue_phase'), { deps: okRunner() });
    const rec = await h.run();
    expect(rec.status).toBe('completed');
    expect(actionRec(rec, 'a1').status).toBe('failed');
    expect(actionRec(rec, 'a2').status).toBe('completed');
  });

  it('skip_phase skips the rest of the phase and runs the next phase', async () => {
    const h = harness(twoPhases('skip_phase'), { deps: okRunner() });
    const rec = await h.run();
    expect(rec.status).toBe('completed');
    expect(actionRec(rec, 'a2')).toMatchObject({ status: 'skipped' });
    expect(actionRec(rec, 'a3').status).toBe('completed');
  });

  it('alert_only goes on and raises a notification record', async () => {
    const h = harness(twoPhases('alert_only'), { deps: okRunner() });
    const rec = await h.run();
    expect(rec.status).toBe('completed');
    expect(rec.notifications).toEqual([expect.objectContaining({ kind: 'alert_only', action_id: 'a1', phase_id: 'p1' })]);
    expect(h.deps.events.some((e) => e.kind === 'notification')).toBe(true);
  });

  it('pause stops with status paused and a resume hint', async () => {
    const h = harness(twoPhases('pause'), { deps: okRunner() });
    const rec = await h.run();
    expect(rec.status).toBe('paused');
    expect(rec.status_reason).toContain('cortex resume');
    expect(h.deps.store.active.has(rec.execution_id)).toBe(true);
    expect(h.deps.store.summaries).toHaveLength(0);
  });
});

describe('engine: retry', () => {
  it('retries with backoff and records every attempt', async () => {
    const deps = fakeDeps();
    deps.runner.on('flaky', [], { exitCode: 1, stderr: 'no' }, { exitCode: 1, stderr: 'no' }, { exitCode: 0 });
    const def = workflow([phase('p', [cmd('a', ['flaky'], { retry: { max_attempts: 3, delay_seconds: 1, backoff: 2 } })])]);
    const rec = await harness(def, { deps }).run();
    const a = actionRec(rec, 'a');
    expect(a.status).toBe('completed');
    expect(a.attempts.map((x) => x.status)).toEqual(['failed', 'failed', 'succeeded']);
    expect(deps.clock.sleeps).toEqual([1000, 2000]);
    expect(deps.events.filter((e) => e.kind === 'action-retry')).toHaveLength(2);
  });

  it('a retry event gives the wait as it happens under the lab\'s shortened clock, and the nominal one beside it', async () => {
    const deps = fakeDeps({ clock: new ScaledClock(new ManualClock(), 0.01) });
    deps.runner.on('flaky', [], { exitCode: 1, stderr: 'no' }, { exitCode: 0 });
    const def = workflow([phase('p', [cmd('a', ['flaky'], { retry: { max_attempts: 2, delay_seconds: 60 } })])]);
    await harness(def, { deps }).run();
    expect(deps.events.filter((e) => e.kind === 'action-retry')).toEqual([expect.objectContaining({ delayMs: 600, nominalDelayMs: 60_000 })]);
    // Outside the lab: the one wait, no nominal one.
    const real = fakeDeps();
    real.runner.on('flaky', [], { exitCode: 1, stderr: 'no' }, { exitCode: 0 });
    await harness(def, { deps: real }).run();
    const [retry] = real.events.filter((e) => e.kind === 'action-retry');
    expect(retry).toMatchObject({ delayMs: 60_000 });
    expect(retry).not.toHaveProperty('nominalDelayMs');
  });

  it('uses fallback_parameters on the last attempt (retry_with_fallback_host)', async () => {
    const deps = fakeDeps();
    deps.runner.on('provision', ['--host', 'pve-01'], { exitCode: 1, stderr: 'host down' });
    deps.runner.on('provision', ['--host', 'pve-02'], { exitCode: 0 });
    const def = workflow([
      phase('p', [
        {
          action_id: 'a',
          action: 'execute_command',
          parameters: { command: ['provision', '--host', 'pve-01'] },
          retry: { max_attempts: 2, fallback_parameters: { command: ['provision', '--host', 'pve-02'] } },
        },
      ]),
    ]);
    const rec = await harness(def, { deps }).run();
    const a = actionRec(rec, 'a');
    expect(a.status).toBe('completed');
    expect(a.attempts.map((x) => [x.status, Boolean(x.fallback)])).toEqual([
      ['failed', false],
      ['succeeded', true],
    ]);
    expect(deps.runner.calls.map((c) => c.args[1])).toEqual(['pve-01', 'pve-02']);
  });

  it('gives up after max_attempts and then applies on_error', async () => {
    const deps = fakeDeps();
    deps.runner.on('bad', [], { exitCode: 2 });
    const def = workflow([phase('p', [cmd('a', ['bad'], { retry: { max_attempts: 2 }, on_error: 'continue_phase' })])]);
    const rec = await harness(def, { deps }).run();
    expect(actionRec(rec, 'a').attempts).toHaveLength(2);
    expect(actionRec(rec, 'a').status).toBe('failed');
    expect(rec.status).toBe('completed');
  });

  it('does not retry an error the contractor marks non-retryable (missing tool)', async () => {
    const deps = fakeDeps();
    deps.runner.on('nosuch', [], { exitCode: null, spawnError: { code: 'ENOENT', message: 'spawn nosuch ENOENT' } });
    const def = workflow([phase('p', [cmd('a', ['nosuch'], { retry: { max_attempts: 3, delay_seconds: 1 } })])]);
    const rec = await harness(def, { deps }).run();
    expect(actionRec(rec, 'a').attempts).toHaveLength(1);
    expect(actionRec(rec, 'a').error?.code).toBe('tool_not_found');
  });
});

describe('engine: parallel phases', () => {
  it('runs the actions of a parallel phase concurrently, bounded by max_parallel', async () => {
    const deps = fakeDeps();
    let running = 0;
    let peak = 0;
    deps.runner.on('slow', [], async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return { exitCode: 0 };
    });
    const def = workflow([phase('p', [1, 2, 3, 4, 5].map((i) => cmd(`a${i}`, ['slow', String(i)])), { parallel: true, max_parallel: 3 })]);
    const rec = await harness(def, { deps }).run();
    expect(rec.status).toBe('completed');
    expect(peak).toBe(3);
    expect(deps.runner.calls).toHaveLength(5);
  });
});

describe('engine: handoffs', () => {
  it('writes a handoff when a phase completes and moves it pending -> in_progress -> completed', async () => {
    const deps = okRunner();
    const def = workflow(
      [
        phase('infra', [cmd('make', ['ok'])], { handoff_to: 'talos-contractor', handoff_data: { out: '${make.output.stdout}', n: '${parameters.n}' } }),
        { phase_id: 'k8s', contractor: 'talos-contractor', actions: [cmd('use', ['ok', '${infra.handoff_data.n}', 'n=${infra.handoff_data.n}'])] },
      ],
      { parameters: { n: { type: 'integer', default: 3 } } },
    );
    const h = harness(def, { deps, params: { n: 3 } });
    const rec = await h.run();
    const id = `${rec.execution_id}-infra-to-talos`;
    const hand = deps.store.handoffs.get(`talos-contractor/${id}`);
    expect(hand).toMatchObject({ status: 'completed', from_contractor: 'infrastructure-contractor', to_contractor: 'talos-contractor', task_id: rec.execution_id, from_phase: 'infra', to_phase: 'k8s', data: { out: 'fine', n: 3 } });
    expect(hand?.picked_up_at).toBeTruthy();
    expect(rec.phases[1]?.handoff_in).toBe(id);
    expect(deps.runner.calls[1]?.args).toEqual(['3', 'n=3']);
  });

  it('list-form handoff_data takes the keys from the phase actions outputs', async () => {
    const deps = okRunner();
    const def = workflow([
      phase('infra', [cmd('make', ['ok'])], { handoff_to: 'talos-contractor', handoff_data: ['exit_code', 'stdout'] }),
      { phase_id: 'k8s', contractor: 'talos-contractor', actions: [cmd('use', ['ok'])] },
    ]);
    const rec = await harness(def, { deps }).run();
    expect(rec.phases[0]?.handoff_data).toEqual({ exit_code: 0, stdout: 'fine' });
  });

  it('a conditional handoff goes to the contractor the decision picks, and a skipped receiver passes it on', async () => {
    const deps = okRunner();
    const def = workflow(
      [
        {
          phase_id: 'detect',
          contractor: 'n8n-contractor',
          actions: [cmd('rec', ['ok'])],
          handoff_to: 'conditional',
          handoff_decision: { if: "${parameters.type} == 'node'", then: 'talos-contractor', else: 'infrastructure-contractor' },
          handoff_data: { t: '${parameters.type}' },
        },
        { phase_id: 'k8s', contractor: 'talos-contractor', condition: "${parameters.type} == 'node'", actions: [cmd('k', ['ok'])], handoff_to: 'infrastructure-contractor' },
        phase('net', [cmd('n', ['ok'])]),
      ],
      { parameters: { type: { type: 'string' } } },
    );
    const rec = await harness(def, { deps, params: { type: 'vm' } }).run();
    const hand = deps.store.handoffs.get(`infrastructure-contractor/${rec.execution_id}-detect-to-infrastructure`);
    expect(hand).toMatchObject({ status: 'completed', to_phase: 'net', decision: { value: false } });
    expect(rec.phases[1]?.status).toBe('skipped');
  });

  it('a handoff whose receiving phase never ran ends failed with a reason', async () => {
    const deps = okRunner();
    const def = workflow([
      phase('infra', [cmd('make', ['ok'])], { handoff_to: 'talos-contractor', handoff_data: { x: 1 } }),
      { phase_id: 'k8s', contractor: 'talos-contractor', actions: [cmd('use', ['bad'])] },
    ]);
    const rec = await harness(def, { deps }).run();
    expect(rec.status).toBe('failed');
    const hand = deps.store.handoffs.get(`talos-contractor/${rec.execution_id}-infra-to-talos`);
    expect(hand?.status).toBe('failed');
  });
});

describe('engine: approvals, person tasks, resume', () => {
  it('stops at a phase that requires approval and continues once approved', async () => {
    const deps = okRunner();
    const def = workflow([phase('p1', [cmd('a1', ['ok'])]), phase('p2', [cmd('a2', ['ok'])], { requires_approval: '${parameters.gate}', approval_timeout: 60, approval_role: 'lead' })], {
      parameters: { gate: { type: 'boolean', default: true } },
    });
    const h = harness(def, { deps, params: { gate: true } });
    let rec = await h.run();
    expect(rec.status).toBe('awaiting_approval');
    expect(rec.phases[1]).toMatchObject({ status: 'awaiting_approval', approval: { role: 'lead', expires_at: '2026-11-25T12:01:00.000Z' } });
    expect(deps.runner.calls).toHaveLength(1);
    (rec.phases[1]?.approval as { decision?: string }).decision = 'approved';
    rec = await harness(def, { deps, params: { gate: true }, record: rec }).run();
    expect(rec.status).toBe('completed');
    expect(deps.runner.calls).toHaveLength(2);
  });

  it('does not ask for approval when the expression is false', async () => {
    const def = workflow([phase('p2', [cmd('a2', ['ok'])], { requires_approval: '${parameters.gate}' })], { parameters: { gate: { type: 'boolean' } } });
    const rec = await harness(def, { deps: okRunner(), params: { gate: false } }).run();
    expect(rec.status).toBe('completed');
  });

  it('waits for a person task and keeps its outputs once done', async () => {
    const deps = okRunner();
    const def = workflow([
      { phase_id: 'rem', contractor: 'security-master', actions: [{ action_id: 'review', action: 'review_investigation_findings', parameters: { report: 's3://x' } }], handoff_to: 'n8n-contractor', handoff_data: { plan: '${review.output.remediation_plan}' } },
      { phase_id: 'post', contractor: 'n8n-contractor', actions: [cmd('use', ['ok', '${rem.handoff_data.plan}'])] },
    ]);
    let rec = await harness(def, { deps }).run();
    expect(rec.status).toBe('awaiting_approval');
    const review = actionRec(rec, 'review');
    expect(review.status).toBe('awaiting_input');
    review.status = 'completed';
    review.outputs = { remediation_plan: 'rebuild the node' };
    rec = await harness(def, { deps, record: rec }).run();
    expect(rec.status).toBe('completed');
    expect(deps.runner.calls.at(-1)?.args).toEqual(['rebuild the node']);
  });

  it('drafts a person task first: the draft is in the record and in a 0600 file, and the wait names both', async () => {
    const deps = okRunner();
    deps.runner.on('pvesh', ['get', '/cluster/resources'], { exitCode: 0, stdout: `${JSON.stringify([{ type: 'qemu', vmid: 112, name: 'web-01', node: 'pve-02', status: 'running', template: 0 }])}\n` });
    deps.runner.on('pvesh', ['get', '/nodes/pve-02/qemu/112/config'], { exitCode: 0, stdout: `${JSON.stringify({ name: 'web-01', cores: 2, memory: 4096, ipconfig0: 'ip=10.0.0.5/24' })}\n` });
    const def = workflow([
      {
        phase_id: 'rem',
        contractor: 'security-master',
        actions: [{ action_id: 'review', action: 'review_investigation_findings', parameters: { report: 's3://x', findings: { attack_vector: 'ssh_key_compromise' }, affected_resource: { type: 'vm', identifier: 'web-01' } } }],
      },
    ]);
    const rec = await harness(def, { deps }).run();
    expect(rec.status).toBe('awaiting_approval');
    const review = actionRec(rec, 'review');
    expect(review.status).toBe('awaiting_input');
    expect(review.person_task?.draft?.replacement_specs).toEqual({ name: 'web-01', node: 'pve-02', cores: 2, memory_mb: 4096, ip: '10.0.0.5/24' });
    const file = '/coordination/state/artifacts/wf-20261125T120000Z-abcd/review/draft.yaml';
    expect(review.person_task?.draft_file).toBe(file);
    expect(deps.files.modes.get(file)).toBe(0o600);
    expect(deps.files.files.get(file)).toMatch(/^# Draft outputs of the task "review"[\s\S]*\nreplacement_specs:\n {2}name: web-01\n/);
    expect(review.person_task?.draft_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rec.status_reason).toContain(`file ${file}`);
    expect(rec.status_reason).toContain('cortex approve wf-20261125T120000Z-abcd --action review --data FILE');
    expect(review.attempts.map((a) => a.status)).toEqual(['succeeded']);
  });

  it('a draft that fails leaves the task waiting without one, saying why', async () => {
    const def = workflow([{ phase_id: 'rem', contractor: 'security-master', actions: [{ action_id: 'review', action: 'review_investigation_findings', parameters: { report: '' } }] }]);
    const rec = await harness(def, { deps: okRunner() }).run();
    const review = actionRec(rec, 'review');
    expect(review.status).toBe('awaiting_input');
    expect(review.person_task?.draft).toBeUndefined();
    expect(review.person_task?.draft_error).toMatchObject({ code: 'invalid_parameters', message: expect.stringContaining('/report') });
    expect(rec.status_reason).toMatch(/cortex could not draft it: .*--data FILE/);
  });

  it('a drafter that cannot read the VM drafts the rest; a task the person failed applies its on_error', async () => {
    const deps = okRunner();
    deps.runner.on('pvesh', [], { exitCode: 0, stdout: 'not json\n' });
    const def = workflow([
      {
        phase_id: 'rem',
        contractor: 'security-master',
        actions: [
          { action_id: 'review', action: 'review_investigation_findings', parameters: { report: 's3://x', affected_resource: { type: 'vm', identifier: 'web-01' } } },
          { action_id: 'verify', action: 'verify_remediation_complete', parameters: { checks: ['done'] }, on_error: 'alert_only' },
        ],
      },
    ]);
    let rec = await harness(def, { deps }).run();
    const review = actionRec(rec, 'review');
    // pvesh printing no JSON is caught by the drafter: the draft says why there are no specs.
    expect(review.person_task?.draft?.replacement_specs).toBeNull();
    expect((review.person_task?.draft?.remediation_plan as { notes: string[] }).notes[0]).toMatch(/could not read the VM "web-01"/);
    review.status = 'completed';
    review.outputs = review.person_task?.draft ?? {};
    rec = await harness(def, { deps, record: rec }).run();
    const verify = actionRec(rec, 'verify');
    expect(verify.status).toBe('awaiting_input');
    verify.person_task = { ...verify.person_task, result: 'failed', error: { code: 'task_failed', message: 'remediation not verified: done not confirmed' } };
    rec = await harness(def, { deps, record: rec }).run();
    expect(actionRec(rec, 'verify')).toMatchObject({ status: 'failed', on_error_applied: 'alert_only', error: { code: 'task_failed' } });
    expect(rec.status).toBe('completed');
  });

  it('on resume, does not re-run a non-idempotent action whose outcome is unknown unless told', async () => {
    const deps = okRunner();
    const def = workflow([phase('p', [cmd('a1', ['ok']), cmd('a2', ['ok', 'second'])])]);
    let rec = (await harness(def, { deps }).run()) as ReturnType<typeof JSON.parse>;
    // Simulate a crash while a2 ran: a fresh record with a1 done and a2 running.
    rec = JSON.parse(JSON.stringify(rec));
    rec.status = 'running';
    rec.finished_at = null;
    rec.metrics_recorded = false;
    const a2 = actionRec(rec, 'a2');
    a2.status = 'running';
    a2.attempts = [{ attempt: 1, status: 'running', started_at: rec.started_at }];
    delete a2.outputs;
    rec.phases[0].status = 'running';
    const calls = deps.runner.calls.length;
    const paused = await harness(def, { deps, record: rec }).run();
    expect(paused.status).toBe('paused');
    expect(paused.status_reason).toContain('--retry-action a2');
    expect(deps.runner.calls.length).toBe(calls);
    const resumed = await harness(def, { deps, record: paused, resume: { retryAction: 'a2' } }).run();
    expect(resumed.status).toBe('completed');
    expect(deps.runner.calls.length).toBe(calls + 1);
    expect(actionRec(resumed, 'a2').attempts.map((a) => a.status)).toEqual(['interrupted', 'succeeded']);
  });

  it('an interrupted run is paused with the reason and its running action marked interrupted', async () => {
    const deps = fakeDeps();
    const ac = new AbortController();
    deps.runner.on('hang', [], async (_args, opts) => {
      ac.abort(new Error('SIGINT'));
      return { exitCode: null, signal: 'SIGTERM', aborted: Boolean(opts?.signal?.aborted) };
    });
    const def = workflow([phase('p', [cmd('a', ['hang']), cmd('b', ['ok'])])]);
    const rec = await harness(def, { deps, signal: ac.signal }).run();
    expect(rec.status).toBe('paused');
    expect(rec.status_reason).toBe('interrupted by SIGINT');
    expect(actionRec(rec, 'a').status).toBe('interrupted');
    expect(actionRec(rec, 'b').status).toBe('pending');
  });
});

describe('engine: secrets and escalations', () => {
  it('never writes a secret value to the record, handoffs or logs', async () => {
    const deps = fakeDeps({ secrets: new MapSecretSource({ TOKEN: 's3cr3t-value' }) });
    deps.runner.on('echo', [], (args) => ({ exitCode: 0, stdout: `${args.join(' ')}\n` }));
    const def = workflow([
      phase('p', [cmd('a', ['echo', 'token=${secrets.TOKEN}'])], { handoff_to: 'talos-contractor', handoff_data: { out: '${a.output.stdout}' } }),
      { phase_id: 'q', contractor: 'talos-contractor', actions: [cmd('b', ['echo', '${p.handoff_data.out}'])] },
    ]);
    const rec = await harness(def, { deps }).run();
    expect(rec.status).toBe('completed');
    expect(deps.runner.calls[0]?.args).toEqual(['token=s3cr3t-value']);
    const everything = JSON.stringify([...deps.store.writes, ...deps.store.history.values(), ...deps.store.handoffs.values(), deps.store.logs, deps.events]);
    expect(everything).not.toContain('s3cr3t-value');
    expect(everything).toContain('token=***');
  });

  it('fails the action clearly when a secret is missing', async () => {
    const def = workflow([phase('p', [cmd('a', ['echo', '${secrets.NOPE}'])])]);
    const rec = await harness(def, { deps: okRunner() }).run();
    expect(actionRec(rec, 'a')).toMatchObject({ status: 'errored', error: { code: 'secret_missing' } });
    expect(rec.status).toBe('failed');
  });

  it('fires an escalation rule once when its condition holds', async () => {
    const def = workflow([phase('p1', [cmd('a', ['ok'])]), phase('p2', [cmd('b', ['ok'])])], {
      parameters: { severity: { type: 'string' } },
      escalation_rules: [{ condition: "${parameters.severity} == 'critical'", notify: ['ciso'], sla: '15m' }],
    });
    const rec = await harness(def, { deps: okRunner(), params: { severity: 'critical' } }).run();
    expect(rec.notifications?.filter((n) => n.kind === 'escalation')).toHaveLength(1);
    expect(rec.notifications?.[0]?.notify).toEqual(['ciso']);
  });
});
