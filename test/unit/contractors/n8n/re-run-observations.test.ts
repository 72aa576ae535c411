/**
 * A re-run of an action (a retry, or `cortex resume` after kill -9) must report what the FIRST
 * attempt saw before it changed anything: the compensation undoes to that state. The fake n8n
 * keeps its workflows between the two attempts; the first attempt is killed at its change.
 */
import { describe, expect, it } from 'vitest';
import { N8N_SPECS } from '../../../../src/contractors/n8n/specs.js';
import type { HttpRequest, HttpResponse } from '../../../../src/ports/http-client.js';
import { FakeHttpClient } from '../../../fakes/fakes.js';
import { compensationFor, killPoint, observationStore, type ObservationStore } from '../runtime-helper.js';
import { calls, j, runAction } from './helpers.js';

const API = 'https://n8n.example.com/api/v1';

interface Wf {
  id: string;
  name: string;
  active: boolean;
}

/** A minimal n8n public API over `workflows`; `onChange` runs before each create/update/(de)activation. */
function fakeN8n(workflows: Wf[], onChange: () => void): FakeHttpClient {
  const full = (w: Wf) => ({ ...w, nodes: [], connections: {}, settings: {} });
  return new FakeHttpClient((req: HttpRequest): Partial<HttpResponse> => {
    const path = req.url.slice(API.length);
    const byName = /^\/workflows\?name=([^&]+)/.exec(path);
    if (req.method === 'GET' && byName) {
      const name = decodeURIComponent((byName[1] as string).replace(/\+/g, ' '));
      return j(200, { data: workflows.filter((w) => w.name === name).map(full), nextCursor: null });
    }
    const one = /^\/workflows\/([^/]+)(\/(activate|deactivate))?$/.exec(path);
    const wf = one ? workflows.find((w) => w.id === one[1]) : undefined;
    if (req.method === 'GET' && wf) return j(200, full(wf));
    if (req.method === 'POST' && path === '/workflows') {
      onChange();
      const created = { id: `Wf${workflows.length + 1}`, name: String((JSON.parse(req.body ?? '{}') as { name?: unknown }).name), active: false };
      workflows.push(created);
      return j(200, full(created));
    }
    if (wf && req.method === 'PUT' && !one?.[2]) return (onChange(), j(200, full(wf)));
    if (wf && req.method === 'POST' && one?.[3]) {
      onChange();
      wf.active = one[3] === 'activate';
      return j(200, full(wf));
    }
    return { status: 404, body: JSON.stringify({ message: `not found: ${req.method} ${req.url}` }) };
  });
}

async function attempt(action: string, params: Record<string, unknown>, http: FakeHttpClient, observed: ObservationStore) {
  const r = await runAction(action, params, http, { observed, actionId: 'deploy-handler' });
  expect(r.error).toBeUndefined();
  return { outputs: r.outputs as Record<string, unknown>, requests: r.requests };
}

/** First attempt killed at its first change, then the resumed attempt against the same n8n with the record read back. */
async function crashAndRerun(action: string, params: Record<string, unknown>, workflows: Wf[]) {
  const first = observationStore();
  const kill = killPoint(first);
  await attempt(action, params, fakeN8n(workflows, kill.mark), first);
  return attempt(action, params, fakeN8n(workflows, () => undefined), observationStore(kill.disk()));
}

describe('n8n workflows: kill -9 at the change, then resume', () => {
  it('create_n8n_workflow: existed stays false for the workflow the killed attempt created, so rollback deletes it', async () => {
    const params = { name: 'critical-alert-handler', webhook_path: 'critical-alerts' };
    const r = await crashAndRerun('create_n8n_workflow', params, []);
    expect(r.outputs).toEqual({ workflow_id: 'Wf1', name: 'critical-alert-handler', webhook_url: 'https://n8n.example.com/webhook/critical-alerts', active: true, existed: false });
    // The re-run updates the workflow it finds instead of creating a second one.
    expect(calls(r.requests).map((c) => c.split('?')[0])).toEqual([`GET ${API}/workflows`, `PUT ${API}/workflows/Wf1`]);
    expect(compensationFor(N8N_SPECS, 'create_n8n_workflow', params, r.outputs).params).toMatchObject({ workflow_id: 'Wf1', skip: false });
  });

  it('activate_n8n_workflow: was_active stays false, so rollback deactivates', async () => {
    const r = await crashAndRerun('activate_n8n_workflow', { workflow_id: 'Wf1' }, [{ id: 'Wf1', name: 'x', active: false }]);
    expect(r.outputs).toEqual({ workflow_id: 'Wf1', active: true, was_active: false });
    expect(compensationFor(N8N_SPECS, 'activate_n8n_workflow', {}, r.outputs).params).toMatchObject({ workflow_id: 'Wf1', skip: false });
  });

  it('deactivate_n8n_workflow: was_active stays true', async () => {
    const r = await crashAndRerun('deactivate_n8n_workflow', { workflow_id: 'Wf1' }, [{ id: 'Wf1', name: 'x', active: true }]);
    expect(r.outputs).toEqual({ workflow_id: 'Wf1', active: false, was_active: true });
  });
});

describe('update_dns_records (n8n looks and changes in one request)', () => {
  const URL = 'https://n8n.example.com/webhook/cortex/update_dns_records';
  const params = { zone: 'cortex.local', records: [{ name: 'api.cortex.local', value: '10.10.2.100' }] };

  /** The n8n workflow: answers the records as they were and sets the new ones. */
  function dnsWorkflow(zone: Record<string, string>): FakeHttpClient {
    return new FakeHttpClient((req) => {
      if (req.method !== 'POST' || req.url !== URL) return { status: 404, body: '{}' };
      const records = (JSON.parse(req.body ?? '{}') as { parameters: typeof params }).parameters.records;
      const previous = records.map((r) => ({ name: r.name, type: 'A', value: zone[r.name] }));
      for (const r of records) zone[r.name] = r.value;
      return j(200, { updated: records.map((r) => r.name), previous_records: previous });
    });
  }

  it('a re-run after the first answer keeps that answer\'s previous_records, so rollback restores the old address', async () => {
    const zone = { 'api.cortex.local': '10.10.1.100' };
    const first = observationStore();
    await attempt('update_dns_records', params, dnsWorkflow(zone), first);
    // Killed after n8n answered, before the outputs were recorded: the resumed attempt asks again.
    const r = await attempt('update_dns_records', params, dnsWorkflow(zone), observationStore(first.persisted));
    expect(r.outputs.previous_records).toEqual([{ name: 'api.cortex.local', type: 'A', value: '10.10.1.100' }]);
    expect(compensationFor(N8N_SPECS, 'update_dns_records', { ...params, provider: 'cloudflare' }, r.outputs).params).toMatchObject({ records: [{ name: 'api.cortex.local', value: '10.10.1.100' }] });
  });

  it('an answer without previous_records records nothing, so a later answer can still supply them', async () => {
    const store = observationStore();
    const noPrevious = new FakeHttpClient(() => j(200, { updated: ['api.cortex.local'] }));
    expect((await attempt('update_dns_records', params, noPrevious, store)).outputs.previous_records).toBeNull();
    expect(store.persisted).toEqual({});
  });
});
