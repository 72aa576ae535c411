import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalogue } from '../../../src/contractors/load-catalogue.js';
import { formatIssue } from '../../../src/errors.js';
import { parseDocumentText } from '../../../src/definitions/load-document.js';
import { validateWorkflowDocument } from '../../../src/definitions/validate-workflow.js';
import { loadTriggers } from '../../../src/triggers/load.js';
import { matchEvent } from '../../../src/triggers/match.js';
import { renderParameters } from '../../../src/triggers/render.js';
import { fixture, fixtureJson, removeDir, tempDir } from './helpers.js';

const PROJECT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');
const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));
function root(files: Record<string, string>): string {
  const d = tempDir(files);
  dirs.push(d);
  return d;
}

const WF = `workflow_id: small
workflow_name: Small
version: 1.0.0
parameters:
  host: { type: string, required: true }
  count: { type: integer, default: 1 }
phases:
  - phase_id: p
    contractor: infrastructure-contractor
    actions:
      - { action_id: a, action: execute_command, parameters: { command: [echo, "\${parameters.host}"] } }
`;

async function validate(triggersYaml: string): Promise<string[]> {
  const doc = parseDocumentText(`${WF}triggers:\n${triggersYaml}`, 'yaml', 'small.yaml');
  const r = validateWorkflowDocument(doc, await loadCatalogue('/nonexistent'));
  return r.errors.map(formatIssue);
}

describe('cortex validate checks triggers', () => {
  it('accepts every trigger type with ${event.*}, ${trigger.*} and ${env.*} mappings', async () => {
    expect(
      await validate(`  - { type: schedule, id: nightly, cron: "30 2 * * *", timezone: Europe/Berlin, catch_up: run_once, parameters: { host: "\${event.scheduled_local}" } }
  - { type: prometheus_alert, alert_name: HighMemoryUsage, matchers: { cluster: "=~prod-.*" }, threshold: 0.9, value_label: value, on_status: firing, parameters: { host: "\${event.labels.instance}", count: "\${trigger.value}" } }
  - { type: falco, priority: critical, rules: ["Drop and execute*"], tags: [container], auth: { type: bearer, secret: "\${secrets.FALCO_TOKEN}" }, parameters: { host: "\${event.hostname}" } }
  - { type: github_webhook, events: [pull_request], actions: [closed], branches: [main], repository: "cortex-apps/*", secret: GH_SECRET, conditions: { pull_request.merged: true }, parameters: { host: "\${env.DEPLOY_HOST}" } }
  - { type: webhook, path: /webhook/deploy, source: generic, auth: { type: none }, condition: "\${event.kind} == 'deploy'", conditions: { "output_fields['k8s.ns.name']": [payments, web] }, parameters: { host: "\${event.host}" } }
`),
    ).toEqual([]);
  });

  it('names every problem with its pointer', async () => {
    const errors = await validate(`  - { type: schedule, cron: "61 * * * *", parameters: { hostname: x } }
  - { type: schedule, cron: "* * * * *", timezone: Mars/Olympus }
  - { type: falco, priority: severe, parameters: { host: "\${parameters.host}" } }
  - { type: prometheus_alert, alert_name: X, matchers: { a: "=~(" }, auth: { secret: "hunter2 literally" } }
  - { type: webhook, path: x, condition: "\${event.a} ==", conditions: { "a..b": 1 } }
  - { type: schedule, cron: "* * * * * *" }
`);
    expect(errors).toEqual([
      expect.stringMatching(/\/triggers\/0\/cron: bad cron expression "61 \* \* \* \*"/),
      expect.stringMatching(/\/triggers\/0\/parameters\/hostname: trigger sets "hostname", which is not a declared parameter of small \(declared: host, count\)/),
      expect.stringMatching(/\/triggers\/1\/timezone: unknown IANA time zone "Mars\/Olympus"/),
      expect.stringMatching(/\/triggers\/2\/priority: unknown Falco priority "severe"/),
      expect.stringMatching(/\/triggers\/2\/parameters\/host: \$\{parameters.host\} cannot be used here/),
      expect.stringMatching(/\/triggers\/3\/matchers\/a: bad regular expression "\("/),
      expect.stringMatching(/\/triggers\/3\/auth\/secret: expected a secret name or \$\{secrets.NAME\}/),
      expect.stringMatching(/\/triggers\/4\/conditions\/a..b: bad field path/),
      expect.stringMatching(/\/triggers\/4\/condition: bad condition/),
      expect.stringMatching(/\/triggers\/5\/cron: expected five fields/),
    ]);
  });

  it('the schema refuses unknown trigger fields', async () => {
    expect((await validate('  - { type: github_webhook, branchs: [main] }\n')).join('\n')).toMatch(/\/triggers\/0\/branchs: unknown property "branchs"/);
  });
});

describe('loadTriggers', () => {
  it('the built-in workflows: their triggers load, templates are left out, and the fixtures map onto them', async () => {
    const r = root({});
    cpSync(join(PROJECT, 'coordination', 'workflows'), join(r, 'workflows'), { recursive: true });
    const loaded = await loadTriggers(r, await loadCatalogue(r));
    expect(loaded.problems).toEqual([]);
    expect(loaded.entries.map((e) => `${e.key} ${e.source}:${e.route}`).sort()).toEqual([
      'app-deployment/push-to-main github:github',
      'disaster-recovery-failover/primary-site-down alertmanager:alertmanager',
      'security-incident-response/falco-critical falco:falco',
    ]);
    const falco = loaded.entries.filter((e) => e.source === 'falco');
    const m = matchEvent(falco, { source: 'falco', payload: fixtureJson('falco/critical.json'), rawBody: fixture('falco/critical.json'), receivedAt: new Date() }, {}).matches[0]!;
    expect(renderParameters(m.entry.def, m.entry.trigger.parameters as Record<string, unknown>, m.event, m.vars, {}).values).toMatchObject({
      affected_resource: { type: 'node', identifier: 'prod-k8s-01-node-3' },
      initial_indicators: { rule_triggered: 'Drop and execute new binary in container', timestamp: '2026-11-25T18:52:41.332915474Z' },
    });
    const gh = loaded.entries.filter((e) => e.source === 'github');
    const g = matchEvent(gh, { source: 'github', payload: fixtureJson('github/push.json'), rawBody: fixture('github/push.json'), githubEvent: 'push', delivery: 'x', receivedAt: new Date() }, {}).matches[0]!;
    expect(renderParameters(g.entry.def, g.entry.trigger.parameters as Record<string, unknown>, g.event, g.vars, {}).values).toMatchObject({ repository: 'cortex-apps/payments-api', commit: 'eb7b85e677927673e3291ac9f0487f7d4d2fb22e', environment: 'production' });
  });

  it('trigger files: a list for one workflow, or one trigger with its workflow_id', async () => {
    const r = root({
      'workflows/small.yaml': WF,
      'triggers/nightly.yaml': 'workflow_id: small\ntype: schedule\ncron: "0 4 * * *"\ntimezone: America/New_York\nparameters: { host: db-1 }\n',
      'triggers/hooks.json': JSON.stringify({ workflow_id: 'small', triggers: [{ type: 'webhook', path: 'small-hook', parameters: { host: '${event.host}' } }, { type: 'falco', id: 'f', priority: 'Error', parameters: { host: '${event.hostname}' } }] }),
    });
    const loaded = await loadTriggers(r, await loadCatalogue(r));
    expect(loaded.problems).toEqual([]);
    expect(loaded.entries.map((e) => [e.key, e.type, e.route ?? e.schedule?.timezone, e.origin])).toEqual([
      ['small/hooks-0', 'webhook', 'small-hook', 'triggers/hooks.json /triggers/0'],
      ['small/f', 'falco', 'falco', 'triggers/hooks.json /triggers/1'],
      ['small/nightly', 'schedule', 'America/New_York', 'triggers/nightly.yaml /'],
    ]);
  });

  it('a trigger file with a problem is skipped whole and reported with its line', async () => {
    const r = root({
      'workflows/small.yaml': WF,
      'triggers/bad.yaml': 'workflow_id: small\ntriggers:\n  - type: schedule\n    cron: "0 4 * * *"\n    timezon: UTC\n',
      'triggers/unknown.yaml': 'workflow_id: nope\ntype: schedule\ncron: "0 4 * * *"\n',
      'triggers/params.yaml': 'workflow_id: small\ntriggers:\n  - { type: schedule, cron: "0 4 * * *", parameters: { host: a } }\n  - { type: schedule, cron: "0 5 * * *", parameters: { nope: a } }\n',
    });
    const loaded = await loadTriggers(r, await loadCatalogue(r));
    expect(loaded.entries).toEqual([]);
    const lines = loaded.problems.map(formatIssue);
    expect(lines).toEqual([
      expect.stringMatching(/^triggers\/bad.yaml:5:\d+: \/triggers\/0\/timezon: unknown property "timezon"/),
      expect.stringMatching(/^triggers\/params.yaml:4:\d+: \/triggers\/1\/parameters\/nope: trigger sets "nope"/),
      expect.stringMatching(/^triggers\/unknown.yaml:1:\d+: \/workflow_id: no valid workflow "nope"/),
    ]);
  });

  it('duplicate keys and a path used for two sources are reported; the later trigger is ignored', async () => {
    const r = root({
      'workflows/small.yaml': `${WF}triggers:\n  - { type: webhook, id: h, path: shared, source: falco, parameters: { host: x } }\n`,
      'triggers/dup.yaml': 'workflow_id: small\ntriggers:\n  - { type: webhook, id: h, path: other, parameters: { host: x } }\n  - { type: webhook, id: h2, path: shared, source: github, parameters: { host: x } }\n  - { type: prometheus_alert, id: g, alert_name: A, path: github }\n',
    });
    const loaded = await loadTriggers(r, await loadCatalogue(r));
    expect(loaded.entries.map((e) => e.key)).toEqual(['small/h']);
    expect(loaded.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/trigger "small\/h" is also defined at workflows\/small.yaml/),
      expect.stringMatching(/receives github events on \/webhook\/shared, which already receives falco events/),
      expect.stringMatching(/receives alertmanager events on \/webhook\/github, which is the github path/),
    ]);
  });
});
