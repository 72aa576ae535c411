/**
 * The lab's HTTP services: one server per service on 127.0.0.1 (free port), named like the
 * config endpoints they stand in for: n8n, slack, pagerduty, jira, github, prometheus, grafana,
 * alertmanager, email, registry, forensics. State in <lab>/state/http.json; every request in
 * <lab>/requests.jsonl. Each service checks its credential against labSecretValue(<the secret
 * name LAB_ENDPOINT_SECRETS gives it>) and answers failure injection (--simulate-fail) with 503.
 */
import type { LabModule, RunningService } from '../module.js';
import { LAB_ENDPOINT_SECRETS, labSecretValue } from '../secrets.js';
import { readHttpState, seedHttpState } from './state.js';
import { startService, stopServer, type ServiceDef, type StartedService } from './server.js';
import { n8nService } from './n8n.js';
import { slackService } from './slack.js';
import { pagerdutyService } from './pagerduty.js';
import { jiraService } from './jira.js';
import { githubService } from './github.js';
import { alertmanagerService, grafanaService, prometheusService } from './monitoring.js';
import { emailService } from './email.js';
import { registryService } from './registry.js';
import { forensicsService } from './forensics.js';
import { webhooksOf } from './n8n.js';

export const HTTP_SERVICES = ['n8n', 'slack', 'pagerduty', 'jira', 'github', 'prometheus', 'grafana', 'alertmanager', 'email', 'registry', 'forensics'] as const;

/** Starts every service; `secretOf(service)` is the value its credential must have. */
export async function startHttpServices(lab: string, secretOf: (service: string) => string): Promise<RunningService> {
  const urls: Record<string, string> = {};
  const self = (name: string) => () => urls[name] as string;
  const defs: ServiceDef[] = [
    n8nService(lab, secretOf('n8n'), self('n8n')),
    slackService(lab),
    pagerdutyService(lab, secretOf('pagerduty')),
    jiraService(lab, secretOf('jira'), self('jira')),
    githubService(lab, secretOf('github'), self('github')),
    prometheusService(lab),
    grafanaService(lab, secretOf('grafana')),
    alertmanagerService(lab),
    emailService(lab, secretOf('email')),
    registryService(lab, secretOf('registry'), self('registry')),
    forensicsService(lab, secretOf('forensics')),
  ];
  const started: StartedService[] = [];
  try {
    for (const def of defs) {
      const s = await startService(lab, def);
      started.push(s);
      urls[def.name] = s.url;
    }
  } catch (e) {
    await Promise.allSettled(started.map((s) => stopServer(s.server)));
    throw e;
  }
  return {
    urls: { ...urls },
    async stop() {
      await Promise.allSettled(started.map((s) => stopServer(s.server)));
    },
  };
}

export const httpModule: LabModule = {
  name: 'http',
  seed(lab) {
    seedHttpState(lab);
  },
  async start(lab) {
    return startHttpServices(lab, (service) => {
      const name = LAB_ENDPOINT_SECRETS[service];
      // A service without a configured secret accepts no credential at all: use an impossible value.
      return name ? labSecretValue(name) : `\u0000no-secret-${service}`;
    });
  },
  describe(lab) {
    const s = readHttpState(lab);
    return {
      n8n: {
        workflows: s.n8n.workflows.map((w) => [w.id, w.name, w.active ? 'active' : 'inactive', ...webhooksOf(w).map((h) => `${h.method} /webhook/${h.path}`)].join(' ')),
        executions: s.n8n.executions.length,
        incidents: Object.entries(s.n8n.incidents).map(([id, i]) => `${id} ${String(i.status ?? '')}`),
        dns: Object.entries(s.n8n.dns).flatMap(([zone, recs]) => Object.entries(recs).map(([name, r]) => `${zone}: ${name} ${r.type} ${r.value} ttl ${r.ttl}`)),
      },
      slack: { messages: s.slack.messages.length, last: s.slack.messages.at(-1)?.text ?? null },
      pagerduty: { events: s.pagerduty.events, open: s.pagerduty.alerts.filter((a) => a.status !== 'resolved').map((a) => a.dedup_key) },
      jira: { issues: s.jira.issues.map((i) => i.key) },
      github: { deployments: s.github.deployments.length, statuses: s.github.statuses.map((x) => `${String(x.deployment_id)}:${String(x.state)}`), issues: s.github.issues.length },
      email: { messages: s.email.messages.length },
      alertmanager: { alerts: s.alertmanager.alerts.length, silences: s.alertmanager.silences.length },
      registry: { repositories: Object.fromEntries(Object.entries(s.registry.repositories).map(([k, v]) => [k, Object.keys(v)])) },
      forensics: { captures: s.forensics.captures.map((c) => `${String(c.id)} ${String(c.status)} ${String(c.node)}/${String(c.interface)}`), uploads: s.forensics.uploads.length },
      ...(Object.keys(s.throttle).length ? { throttle: s.throttle } : {}),
      ...(Object.keys(s.health).length ? { health: s.health } : {}),
    };
  },
};
