import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cortex, readJson, removeRoot, tempRoot } from './helpers.js';

// A lab run whose HTTP requests are made to fail (503): each failure is one line in the output
// and in the record, whatever body the service answered with (the lab's stand-in for application
// URLs ends its 503 body with a newline, as Go's http.Error does).

const WF = `workflow_id: probes
workflow_name: Probes
version: 1.0.0
phases:
  - phase_id: first
    contractor: n8n-contractor
    actions:
      - { action_id: check, action: http_request, parameters: { method: GET, url: "http://web.example/healthz" }, on_error: alert_only }
      - { action_id: notify, action: send_notification, parameters: { channels: [slack, email], message: hi }, on_error: alert_only }
`;

let r: string | undefined;
afterAll(() => {
  if (r) removeRoot(r);
});

describe('lab failures are one-line messages', () => {
  it('an HTTP 503 from the lab leaves no newline in the progress lines, the summary or the record', async () => {
    r = tempRoot({ 'workflows/probes.yaml': WF });
    const run = await cortex(['run', 'probes', '--simulate', '--simulate-fail', 'check', '--simulate-fail', 'notify'], { root: r });
    expect(run.exitCode, run.stderr).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.filter((l) => /check http_request failed/.test(l))).toEqual([expect.stringMatching(/answered 503: Service Unavailable \(on_error alert_only\)$/)]);
    expect(lines.filter((l) => /^\s*\(on_error/.test(l))).toEqual([]);
    expect(lines.filter((l) => /failed first\/check/.test(l))).toEqual(['  failed first/check (http_request) on_error alert_only: GET http://web.example/healthz answered 503: Service Unavailable']);
    const id = /(probes-\S+)/.exec(run.stdout)?.[1] as string;
    const rec = readJson<{ phases: Array<{ actions: Array<{ action_id: string; error?: { message: string } }> }> }>(join(r, 'workflows', 'history', `workflow-${id}.json`));
    const messages = rec.phases[0]?.actions.map((a) => a.error?.message) ?? [];
    expect(messages).toHaveLength(2);
    for (const m of messages) {
      expect(m).toMatch(/503/);
      expect(m).not.toMatch(/[\r\n]/);
    }
  });
});
