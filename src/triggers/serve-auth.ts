/**
 * What `cortex serve` checks before it listens: each webhook path's credentials. A path whose
 * token or webhook secret is missing, unset or unsafe to read answers 401 to every request; the
 * operator hears it at start, with the reason, not only from serve.log.
 */
import { CortexError } from '../errors.js';
import type { TriggerEntry } from './load.js';
import { authOf, routesOf, type ServeConfig } from './server.js';

export interface AuthWarning {
  /** `/webhook/<path>`. */
  path: string;
  /** The trigger keys behind it. */
  triggers: string[];
  /** Why every request will be refused. */
  reason: string;
  /** What to do about it. */
  fix: string;
}

export interface SecretLookup {
  /** The value, undefined when not set; throws a CortexError (with a hint) when it exists but is unsafe. */
  get(name: string): Promise<string | undefined>;
  describe(name: string): string;
}

/** The paths (with triggers) that will answer 401 to every request, and why. */
export async function authWarnings(entries: TriggerEntry[], config: ServeConfig, secrets: SecretLookup): Promise<AuthWarning[]> {
  const out: AuthWarning[] = [];
  for (const route of routesOf(entries).values()) {
    if (route.entries.length === 0) continue;
    const reasons: Array<{ reason: string; fix: string; triggers: string[] }> = [];
    let canPass = false;
    const groups = new Map<string, { spec: ReturnType<typeof authOf>; triggers: string[] }>();
    for (const e of route.entries) {
      const spec = authOf(e, route.source, config);
      const k = JSON.stringify(spec);
      const g = groups.get(k) ?? { spec, triggers: [] };
      g.triggers.push(e.key);
      groups.set(k, g);
    }
    for (const { spec, triggers } of groups.values()) {
      if (spec.kind === 'none') {
        canPass = true;
        continue;
      }
      const what = spec.kind === 'hmac' ? 'webhook secret (X-Hub-Signature-256)' : 'bearer token';
      if (!spec.secretName) {
        reasons.push({
          triggers,
          reason: `no ${what} is configured`,
          fix: `name one in config.yaml (serve.${spec.kind === 'hmac' ? 'github_secret' : 'token_secret'}) or on the trigger (auth.secret), then set its value; or auth: { type: none } for a trusted network`,
        });
        continue;
      }
      try {
        const value = await secrets.get(spec.secretName);
        if (value === undefined || value === '') reasons.push({ triggers, reason: `the ${what} secret ${spec.secretName} is not set`, fix: `set ${secrets.describe(spec.secretName)} (mode 600)` });
        else canPass = true;
      } catch (e) {
        reasons.push({ triggers, reason: `the ${what} secret ${spec.secretName} cannot be used: ${(e as Error).message}`, fix: e instanceof CortexError && e.hint ? e.hint : `check ${secrets.describe(spec.secretName)}` });
      }
    }
    for (const r of reasons) {
      out.push({ path: `/webhook/${route.name}`, triggers: r.triggers, reason: canPass ? `${r.reason} (requests for these triggers are refused)` : `${r.reason}: every request is answered 401`, fix: r.fix });
    }
  }
  return out;
}
