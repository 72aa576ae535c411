import type { ActionImpl, ImplementationRegistry } from './action-impl.js';
import type { ActionSpec } from '../model/catalogue.js';
import { IMPLEMENTATIONS as INFRASTRUCTURE } from './infrastructure/index.js';
import { IMPLEMENTATIONS as TALOS } from './talos/index.js';
import { IMPLEMENTATIONS as N8N } from './n8n/index.js';
import { IMPLEMENTATIONS as SECURITY } from './security/index.js';
import { operatorImplementation } from './operator/template-action.js';

type Loader = () => Promise<ActionImpl>;

/** Built-in implementations, keyed `<contractor>/<action>` (`*` for generic); loaded on first use. */
const BUILTIN: Record<string, Loader> = {
  '*/execute_command': async () => (await import('./generic/execute-command.js')).executeCommand,
  '*/http_request': async () => (await import('./generic/http-request.js')).httpRequest,
  '*/wait': async () => (await import('./generic/wait.js')).waitAction,
};
for (const [contractor, impls] of [
  ['infrastructure-contractor', INFRASTRUCTURE],
  ['talos-contractor', TALOS],
  ['n8n-contractor', N8N],
  ['security-master', SECURITY],
] as const) {
  for (const [name, load] of Object.entries(impls)) BUILTIN[`${contractor}/${name}`] = load;
}

/** Registers more implementations (contractor modules add theirs here). */
export function registerBuiltins(entries: Record<string, Loader>): void {
  Object.assign(BUILTIN, entries);
}

function keyOf(spec: ActionSpec): string {
  return `${spec.contractor}/${spec.name}`;
}

/**
 * Implementations for a catalogue: built-ins by key, and for operator-defined actions the
 * factory given (default: the argv-template implementation of the specs loadCatalogue read
 * from coordination/contractors/).
 */
export function createImplementationRegistry(
  operator: ((spec: ActionSpec) => ActionImpl | undefined) | undefined = operatorImplementation,
): ImplementationRegistry {
  const cache = new Map<string, Promise<ActionImpl | undefined>>();
  return {
    has(spec) {
      if (spec.operatorDefined) return Boolean(operator?.(spec));
      return keyOf(spec) in BUILTIN;
    },
    get(spec) {
      const key = keyOf(spec);
      let p = cache.get(key);
      if (!p) {
        p = spec.operatorDefined ? Promise.resolve(operator?.(spec)) : (BUILTIN[key]?.() ?? Promise.resolve(undefined));
        cache.set(key, p);
      }
      return p;
    },
  };
}
