/** Endpoint names the lab serves over HTTP, with the secret name each is configured to use. */
export const LAB_ENDPOINT_SECRETS: Record<string, string | undefined> = {
  n8n: 'N8N_API_KEY',
  slack: undefined,
  pagerduty: 'PAGERDUTY_ROUTING_KEY',
  jira: 'JIRA_API_TOKEN',
  github: 'GITHUB_TOKEN',
  prometheus: undefined,
  grafana: 'GRAFANA_TOKEN',
  alertmanager: undefined,
  email: 'EMAIL_API_KEY',
  registry: 'REGISTRY_TOKEN',
  forensics: 'FORENSICS_TOKEN',
};

/** The secret a rehearsal's proxmox.api names: an API token of the lab's Proxmox. */
export const LAB_PVE_TOKEN_SECRET = 'CORTEX_LAB_PVE_API_TOKEN';
/** A second lab token that may only read (PVEAuditor): what a token without the privileges meets. */
export const LAB_PVE_AUDIT_TOKEN_SECRET = 'CORTEX_LAB_PVE_AUDIT_TOKEN';

/** The value every lab secret has: deterministic, long enough to be masked (the Proxmox one shaped as an API token). */
export function labSecretValue(name: string): string {
  // A PagerDuty integration key is 32 characters, and the lab PagerDuty checks that as PagerDuty does.
  if (name === 'PAGERDUTY_ROUTING_KEY') return 'lab-secret-pd_routing-0123456789';
  const value = `lab-secret-${name.toLowerCase()}-0123456789`;
  if (name === LAB_PVE_TOKEN_SECRET) return `cortex@pve!lab=${value}`;
  if (name === LAB_PVE_AUDIT_TOKEN_SECRET) return `auditor@pve!lab=${value}`;
  return value;
}
