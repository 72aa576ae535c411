import { createCatalogue } from './catalogue.js';
import { loadOperatorActions } from './operator/load-operator-files.js';
import type { Catalogue } from '../model/catalogue.js';

/**
 * The catalogue for a coordination directory: the built-in actions plus operator-defined ones
 * from <root>/contractors/*.yaml|*.yml|*.json (marked operatorDefined; an operator action replaces
 * the built-in one of the same contractor and name, and a new contractor name becomes known).
 * Throws DefinitionInvalidError naming file:line:column for an invalid file. The implementations
 * of operator actions come from createImplementationRegistry() (registry.ts) without more set-up.
 */
export async function loadCatalogue(root: string): Promise<Catalogue> {
  return createCatalogue(await loadOperatorActions(root));
}
