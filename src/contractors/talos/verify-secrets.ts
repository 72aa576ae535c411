import { ActionFailedError } from '../../errors.js';
import type { ActionImpl, PlannedStep } from '../action-impl.js';
import { clusterFor, kubectlPlanArgs, planCluster } from './cluster.js';
import { kubectlOk } from './kube.js';
import { lines } from './parse.js';
import { isPlaceholder, placeholderNote, planRecord } from './plan-values.js';

interface Params {
  cluster: string;
  namespace: string;
  required_secrets: string[];
  required_keys?: Record<string, string[]>;
}

/** Prints a Secret's data key names, one per line, never the values. */
export const KEY_NAMES_TEMPLATE = '{{range $k, $v := .data}}{{$k}}{{"\\n"}}{{end}}';

const READ = { errorCode: 'kubectl_failed', retryable: true };

export const verifySecretsAction: ActionImpl = {
  plan(params, ctx): PlannedStep[] {
    const p = params as unknown as Params;
    const t = planCluster(ctx.config, params);
    const wanted = [placeholderNote('required secrets', p.required_secrets), placeholderNote('required keys', p.required_keys)].filter(Boolean).join('; ');
    const steps: PlannedStep[] = [{ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'secrets', '-n', p.namespace, '-o', 'name'), ...(wanted ? { note: wanted } : {}) }];
    const keyed = isPlaceholder(p.required_keys) ? [`<each secret of ${p.required_keys}>`] : Object.keys(planRecord(p.required_keys));
    for (const name of keyed) {
      steps.push({ kind: 'command', tool: 'kubectl', args: kubectlPlanArgs(t, 'get', 'secret', name, '-n', p.namespace, '-o', `go-template=${KEY_NAMES_TEMPLATE}`), note: 'key names only' });
    }
    return steps;
  },
  async run(rt) {
    const p = rt.params as unknown as Params;
    const t = await clusterFor(rt, p.cluster);
    const required = [...new Set([...p.required_secrets, ...Object.keys(p.required_keys ?? {})])];
    if (required.length === 0) return { present: [], missing: [] };
    const res = await kubectlOk(rt, t, 'kubectl get secrets', ['get', 'secrets', '-n', p.namespace, '-o', 'name'], READ);
    const found = new Set(lines(res.stdout).map((l) => l.replace(/^secrets?\//, '')));
    const present = required.filter((s) => found.has(s));
    const missing = required.filter((s) => !found.has(s));
    for (const [name, keys] of Object.entries(p.required_keys ?? {})) {
      if (!found.has(name) || keys.length === 0) continue;
      // Only key names are read: a go-template over .data, so values never reach stdout or the record.
      const k = await kubectlOk(rt, t, `kubectl get secret ${name}`, ['get', 'secret', name, '-n', p.namespace, '-o', `go-template=${KEY_NAMES_TEMPLATE}`], READ);
      const have = new Set(lines(k.stdout));
      for (const key of keys) if (!have.has(key)) missing.push(`${name}/${key}`);
    }
    if (missing.length > 0) {
      throw new ActionFailedError(`missing in namespace ${p.namespace}: ${missing.join(', ')}`, {
        errorCode: 'secrets_missing',
        retryable: false,
        hint: 'create the secrets (or keys) before deploying',
      });
    }
    return { present, missing };
  },
};
