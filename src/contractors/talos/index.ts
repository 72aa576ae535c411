import type { ActionImpl } from '../action-impl.js';

/** Implementations of this contractor's actions, keyed by action name, loaded on first use. */
export const IMPLEMENTATIONS: Record<string, () => Promise<ActionImpl>> = {};
