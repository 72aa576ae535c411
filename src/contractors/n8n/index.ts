import type { ActionImpl } from '../action-impl.js';
import { N8N_DELEGATED_ACTIONS } from './delegated-actions.js';

/** Implementations of this contractor's actions, keyed by action name, loaded on first use. */
export const IMPLEMENTATIONS: Record<string, () => Promise<ActionImpl>> = {
  send_notification: async () => (await import('./send-notification.js')).sendNotification,
  create_ticket: async () => (await import('./create-ticket.js')).createTicket,
  create_n8n_workflow: async () => (await import('./n8n-workflows.js')).createN8nWorkflow,
  activate_n8n_workflow: async () => (await import('./n8n-workflows.js')).activateN8nWorkflow,
  deactivate_n8n_workflow: async () => (await import('./n8n-workflows.js')).deactivateN8nWorkflow,
  delete_n8n_workflow: async () => (await import('./n8n-workflows.js')).deleteN8nWorkflow,
  trigger_n8n_webhook: async () => (await import('./trigger-n8n-webhook.js')).triggerN8nWebhook,
  http_health_check: async () => (await import('./http-health-check.js')).httpHealthCheck,
  run_smoke_tests: async () => (await import('./run-smoke-tests.js')).runSmokeTests,
  run_performance_test: async () => (await import('./run-performance-test.js')).runPerformanceTest,
  github_deployment_status: async () => (await import('./github-deployment-status.js')).githubDeploymentStatus,
};

// Actions n8n performs: POST <n8n>/webhook/cortex/<action> (delegated.ts).
for (const name of N8N_DELEGATED_ACTIONS) {
  IMPLEMENTATIONS[name] = async () => (await import('./delegated.js')).delegatedAction(name);
}
