/**
 * The graphs create_n8n_workflow generates: valid for n8n (its published create schema and node
 * definitions) and wired to do what their handler says.
 */
import { describe, expect, it } from 'vitest';
import { handlerGraph, type Handler, type N8nGraph } from '../../../../src/contractors/n8n/n8n-graphs.js';
import { workflowBody } from '../../../../src/contractors/n8n/n8n-workflows.js';
import { workflowNodeProblems } from '../../../../src/lab/http/n8n-nodes.js';
import { n8nBodyError } from '../../../../src/lab/http/n8n-schema.js';

const config = { endpoints: { jira: { url: 'https://ops.atlassian.net' }, prometheus: { url: 'http://prometheus:9090' } } };

/** Names of the nodes that `from`'s output `output` feeds. */
function next(g: N8nGraph, from: string, output = 0): string[] {
  return (g.connections[from]?.main[output] ?? []).map((t) => t.node);
}

function node(g: N8nGraph, name: string): Record<string, unknown> & { parameters: Record<string, unknown> } {
  const n = g.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name} in ${g.nodes.map((x) => x.name).join(', ')}`);
  return n as Record<string, unknown> & { parameters: Record<string, unknown> };
}

function valid(p: Record<string, unknown>): N8nGraph {
  const body = workflowBody({ name: 'wf', ...p }, config);
  expect(n8nBodyError('createWorkflow', body)).toBeUndefined();
  expect(workflowNodeProblems(body.nodes as unknown[], body.connections)).toEqual([]);
  return { nodes: body.nodes as N8nGraph['nodes'], connections: body.connections as N8nGraph['connections'] };
}

describe('handler graphs', () => {
  it('alert_relay: webhook → Slack chat.postMessage, PagerDuty enqueue, and a Jira issue while firing', () => {
    const g = valid({ webhook_path: 'critical-alerts', description: 'relay', handler: { kind: 'alert_relay', slack_channel: '#ops-critical', mention: '<!subteam^S0123>', pagerduty: { severity: 'critical' }, jira: { project: 'OPS', issue_type: 'Incident' } } });
    expect(next(g, 'Webhook').sort()).toEqual(['Firing?', 'PagerDuty', 'Slack #ops-critical']);
    expect(next(g, 'Firing?')).toEqual(['Jira issue']);
    expect(node(g, 'Slack #ops-critical').parameters).toMatchObject({ method: 'POST', url: 'https://slack.com/api/chat.postMessage', genericAuthType: 'httpHeaderAuth' });
    expect(String(node(g, 'Slack #ops-critical').parameters.jsonBody)).toContain('"<!subteam^S0123> " + ');
    expect(node(g, 'PagerDuty').parameters.url).toBe('https://events.pagerduty.com/v2/enqueue');
    expect(node(g, 'PagerDuty').credentials).toEqual({ httpCustomAuth: { name: 'cortex-pagerduty' } });
    expect(node(g, 'Jira issue').parameters.url).toBe('https://ops.atlassian.net/rest/api/2/issue');
    expect(node(g, 'Description').type).toBe('n8n-nodes-base.stickyNote');
    // No cortex secret is written into the workflow: credentials are n8n's, by name.
    expect(JSON.stringify(g)).not.toMatch(/routing_key"\s*:|xox[bp]-/);
  });

  it('alert_digest: the webhook queues, an hourly schedule sends one Slack digest when there is something', () => {
    const g = valid({ webhook_path: 'warning-alerts', handler: { kind: 'alert_digest', slack_channel: '#ops-warnings', every_hours: 1 } });
    expect(next(g, 'Webhook')).toEqual(['Queue alerts']);
    expect(next(g, 'Every hour')).toEqual(['Take queued alerts']);
    expect(next(g, 'Take queued alerts')).toEqual(['Any alerts?']);
    expect(next(g, 'Any alerts?', 0)).toEqual(['Slack #ops-warnings']);
    expect(node(g, 'Every hour').parameters).toEqual({ rule: { interval: [{ field: 'hours', hoursInterval: 1 }] } });
    expect(String(node(g, 'Queue alerts').parameters.jsCode)).toContain('$getWorkflowStaticData');
  });

  it('monitor: schedule → probes → failed checks → If → alert through the critical handler', () => {
    const g = valid({
      schedule: '*/5 * * * *',
      handler: { kind: 'monitor', probes: [{ name: 'Prometheus healthy', url: 'https://p/-/healthy' }, { name: 'Grafana health', url: 'https://g/api/health' }], alert: { webhook_url: 'https://n8n/webhook/critical-alerts', alertname: 'MonitoringEndpointDown' } },
    });
    expect(next(g, 'Schedule')).toEqual(['Prometheus healthy']);
    expect(next(g, 'Prometheus healthy')).toEqual(['Grafana health']);
    expect(next(g, 'Grafana health')).toEqual(['Failed checks']);
    expect(next(g, 'Failed checks')).toEqual(['Anything failed?']);
    expect(next(g, 'Anything failed?', 0)).toEqual(['Raise alert']);
    expect(node(g, 'Prometheus healthy').parameters.options).toMatchObject({ response: { response: { fullResponse: true, neverError: true } } });
    expect(node(g, 'Prometheus healthy').onError).toBe('continueRegularOutput');
  });

  it('monitor with Prometheus queries and a 24h limit', () => {
    const g = valid({ schedule: '*/5 * * * *', handler: { kind: 'monitor', active_for_hours: 24, queries: [{ name: 'pod restarts', query: 'sum(increase(kube_pod_container_status_restarts_total[5m]))', max: 0 }], alert: { slack_channel: '#ops' } } });
    expect(next(g, 'Schedule')).toEqual(['Within 24h?']);
    expect(node(g, 'pod restarts').parameters.url).toBe('http://prometheus:9090/api/v1/query?query=sum(increase(kube_pod_container_status_restarts_total%5B5m%5D))');
    expect(next(g, 'Anything failed?', 0)).toEqual(['Slack #ops']);
  });

  it('k8s_health: nodes and pods from the API, problems → alert', () => {
    const g = valid({ schedule: '*/10 * * * *', handler: { kind: 'k8s_health', api_url: 'https://10.0.0.1:6443', slack_channel: '#ops-critical' } });
    expect(next(g, 'Schedule')).toEqual(['Nodes']);
    expect(next(g, 'Pods')).toEqual(['Find problems']);
    expect(String(node(g, 'Find problems').parameters.jsCode)).toMatch(/CrashLoopBackOff[\s\S]*ImagePullBackOff/);
    expect(next(g, 'Problems?', 0)).toEqual(['Slack #ops-critical']);
  });

  it('k8s_deploy: validate (400 / 202), apply namespace and deployment, wait, read the rollout, Slack either way', () => {
    const g = valid({ webhook_path: 'k8s-deploy', handler: { kind: 'k8s_deploy', api_url: 'https://10.0.0.1:6443', slack_channel: '#deploys', rollout_wait_seconds: 300 } });
    expect(node(g, 'Webhook').parameters.responseMode).toBe('responseNode');
    expect(next(g, 'Valid request?', 0)).toEqual(['Accept']);
    expect(next(g, 'Valid request?', 1)).toEqual(['Refuse']);
    expect(node(g, 'Refuse').parameters.options).toEqual({ responseCode: 400 });
    expect(next(g, 'Accept')).toEqual(['Apply namespace']);
    expect(next(g, 'Apply deployment')).toEqual(['Wait 300s']);
    expect(node(g, 'Apply deployment').parameters).toMatchObject({ method: 'PATCH', contentType: 'raw', rawContentType: 'application/apply-patch+yaml' });
    expect(next(g, 'Rolled out?', 0)).toEqual(['Slack deployed']);
    expect(next(g, 'Rolled out?', 1)).toEqual(['Slack rollout failed']);
  });

  it('call_cortex: schedule → POST to cortex serve → alert when not accepted (the false branch)', () => {
    const g = valid({ schedule: '0 2 * * *', handler: { kind: 'call_cortex', url: 'https://cortex/webhook/etcd-backup', body: { cluster: 'c1' }, slack_channel: '#ops' } });
    expect(next(g, 'Schedule')).toEqual(['Ask cortex']);
    expect(next(g, 'Accepted?', 0)).toEqual([]);
    expect(next(g, 'Accepted?', 1)).toEqual(['Slack #ops']);
    expect(node(g, 'Ask cortex').parameters.jsonBody).toBe('{"cluster":"c1"}');
  });

  it('a handler that misses what it needs is a parameter error, before anything is sent', () => {
    for (const h of [{ kind: 'alert_relay' }, { kind: 'k8s_health', slack_channel: '#x' }, { kind: 'monitor', alert: { slack_channel: '#x' } }] as Handler[]) {
      expect(() => handlerGraph(h, { trigger: { webhook_path: 'x', schedule: '* * * * *' } })).toThrow(/create_n8n_workflow: /);
    }
  });
});
