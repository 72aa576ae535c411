/**
 * The n8n-contractor actions n8n performs: cortex POSTs to `<n8n>/webhook/cortex/<action>` and
 * reads the declared outputs from the JSON answer (delegated.ts). Kept free of imports so the
 * lab can seed one n8n workflow per entry.
 */
export const N8N_DELEGATED_ACTIONS = [
  'clone_repository',
  'build_docker_image',
  'security_scan',
  'push_docker_image',
  'create_incident_record',
  'enable_debug_logging',
  'aggregate_logs',
  'correlate_security_events',
  'check_indicators_of_compromise',
  'generate_investigation_report',
  'enhance_monitoring',
  'update_incident_runbooks',
  'schedule_post_incident_review',
  'close_incident',
  'update_dns_records',
] as const;

export type N8nDelegatedAction = (typeof N8N_DELEGATED_ACTIONS)[number];

/** Webhook path of a delegated action (the n8n Webhook node's `path`). */
export function delegatedWebhookPath(action: string): string {
  return `cortex/${action}`;
}
