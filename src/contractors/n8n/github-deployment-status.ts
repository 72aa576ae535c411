/**
 * github_deployment_status: POST /repos/{owner}/{repo}/deployments/{id}/statuses; without
 * deployment_id a deployment of `ref` in `environment` is created first (or the one this action
 * created on an earlier attempt is reused).
 */
import type { ActionImpl } from '../action-impl.js';
import { endpointPlaceholder } from '../endpoints.js';
import { GitHubApi } from './github.js';

interface Params {
  repository: string;
  state: string;
  deployment_id?: number;
  ref?: string;
  environment?: string;
  description?: string;
  log_url?: string;
  environment_url?: string;
  auto_inactive?: boolean;
}

export const githubDeploymentStatus: ActionImpl = {
  plan(params) {
    const p = params as unknown as Params;
    const base = `${endpointPlaceholder('github')}/repos/${p.repository}/deployments`;
    const id = p.deployment_id ?? '<deployment_id>';
    return [
      ...(p.deployment_id
        ? []
        : [
            { kind: 'request' as const, method: 'GET', url: `${base}?ref=${p.ref ?? 'main'}&environment=${p.environment ?? 'production'}`, note: 'reuse a deployment this action made before' },
            { kind: 'request' as const, method: 'POST', url: base, body: { ref: p.ref ?? 'main', environment: p.environment ?? 'production', auto_merge: false, required_contexts: [] } },
          ]),
      { kind: 'request', method: 'POST', url: `${base}/${id}/statuses`, body: { state: p.state, description: p.description, log_url: p.log_url, environment_url: p.environment_url } },
    ];
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const gh = await GitHubApi.connect(rt);
    const repo = await gh.repo(p.repository);
    const environment = p.environment ?? 'production';
    const deploymentId = p.deployment_id ?? (await gh.deploymentOnce(repo, { ref: p.ref ?? 'main', environment, ...(p.description ? { description: p.description } : {}) })).id;
    const status = await gh.deploymentStatus(repo, deploymentId, {
      state: p.state,
      ...(p.description !== undefined ? { description: p.description } : {}),
      ...(p.log_url !== undefined ? { log_url: p.log_url } : {}),
      ...(p.environment_url !== undefined ? { environment_url: p.environment_url } : {}),
      ...(p.environment !== undefined ? { environment: p.environment } : {}),
      ...(p.auto_inactive !== undefined ? { auto_inactive: p.auto_inactive } : {}),
    });
    return { deployment_id: deploymentId, status_id: status.id, state: status.state };
  },
};
