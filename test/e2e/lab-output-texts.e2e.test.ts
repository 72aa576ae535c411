import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { cortex, readJson, removeRoot, tempRoot } from './helpers.js';

// Texts of a lab run. Its HTTP requests made to fail (503): each failure is one line in the output
// and in the record, whatever body the service answered with (the lab's stand-in for application
// URLs ends its 503 body with a newline, as Go's http.Error does). A retry: the line says the wait
// as it happens in the lab (its clock is 100 times shorter) and what it stands for outside.

const WF = `workflow_id: probes
workflow_name: Probes
version: 1.0.0
phases:
  - phase_id: first
    contractor: n8n-contractor
    actions:
      - { action_id: check, action: http_request, parameters: { method: GET, url: "http://web.example/healthz" }, on_error: alert_only }
      - { action_id: notify, action: send_notification, parameters: { channels: [slack, email], message: hi }, on_error: alert_only }
      - { action_id: again, action: http_request, parameters: { method: GET, url: "http://web.example/healthz" }, retry: { max_attempts: 2, delay_seconds: 60 } }
`;

let r: string | undefined;
afterAll(() => {
  if (r) removeRoot(r);
});

describe('lab run texts', () => {
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
    expect(messages.filter(Boolean)).toHaveLength(2);
    for (const m of messages.filter(Boolean)) {
      expect(m).toMatch(/503/);
      expect(m).not.toMatch(/[\r\n]/);
    }
  });

  it('a retry line gives the real wait and, in the lab, the wait it stands for', async () => {
    r ??= tempRoot({ 'workflows/probes.yaml': WF });
    const run = await cortex(['run', 'probes', '--simulate', '--simulate-fail', 'again:1'], { root: r });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout.split('\n').filter((l) => /retry again/.test(l))).toEqual([expect.stringMatching(/^\S+ +retry again in 0\.6s \(lab; 60s outside it\): GET http:\/\/web\.example\/healthz answered 503: Service Unavailable$/)]);
    expect(run.stdout).toMatch(/ok +again http_request completed in \S+ after 2 attempts/);
  });
});
