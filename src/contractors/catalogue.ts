/**
 * The action catalogue: the built-in specs of the four contractors plus the generic `*` actions,
 * and operator-defined specs layered on top.
 */
import { CONTRACTORS, type ActionSpec, type Catalogue } from '../model/catalogue.js';
import { GENERIC, GENERIC_SPECS } from './generic/specs.js';
import { INFRASTRUCTURE_SPECS } from './infrastructure/specs.js';
import { TALOS_SPECS } from './talos/specs.js';
import { N8N_SPECS } from './n8n/specs.js';
import { SECURITY_SPECS } from './security/specs.js';

/** Every built-in spec: generic first, then per contractor. The objects are shared; do not mutate them. */
export function builtinSpecs(): ActionSpec[] {
  return [...GENERIC_SPECS, ...INFRASTRUCTURE_SPECS, ...TALOS_SPECS, ...N8N_SPECS, ...SECURITY_SPECS];
}

function key(contractor: string, action: string): string {
  return `${contractor}\u0000${action}`;
}

/**
 * Builds the catalogue. A spec in `extra` replaces the built-in one with the same contractor and
 * name; a contractor named in `extra` becomes known. Generic (`*`) actions are available to every
 * known contractor unless it defines an action of the same name.
 */
export function createCatalogue(extra: ActionSpec[] = []): Catalogue {
  const specs = new Map<string, ActionSpec>();
  for (const spec of builtinSpecs()) specs.set(key(spec.contractor, spec.name), spec);
  for (const spec of extra) specs.set(key(spec.contractor, spec.name), spec);

  const known = new Set<string>(CONTRACTORS);
  for (const spec of extra) if (spec.contractor !== GENERIC) known.add(spec.contractor);

  const generic = (): ActionSpec[] => [...specs.values()].filter((s) => s.contractor === GENERIC);

  return {
    get(contractor, action) {
      const own = specs.get(key(contractor, action));
      if (own) return own;
      if (contractor === GENERIC || !known.has(contractor)) return undefined;
      return specs.get(key(GENERIC, action));
    },
    contractors() {
      return [...known];
    },
    actionsOf(contractor) {
      if (contractor === GENERIC) return generic().sort(byName);
      if (!known.has(contractor)) return [];
      const own = [...specs.values()].filter((s) => s.contractor === contractor);
      const names = new Set(own.map((s) => s.name));
      return [...own, ...generic().filter((s) => !names.has(s.name))].sort(byName);
    },
    isKnownContractor(contractor) {
      return known.has(contractor);
    },
  };
}

function byName(a: ActionSpec, b: ActionSpec): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
