/**
 * plan() gets "<action.output.key>" strings where an earlier action supplies a value at run time
 * (src/engine/scope.ts, mode 'plan'), also for list and object parameters: these helpers let a plan
 * show such a placeholder instead of failing on it.
 */

/** True for a `<...>` placeholder of `run --dry-run`. */
export function isPlaceholder(v: unknown): v is string {
  return typeof v === 'string' && /^<[^\n]*>$/.test(v);
}

/** A list parameter as a plan shows it: the list, a placeholder as its one item, [] when absent. */
export function planList<T = string>(v: unknown): T[] {
  if (Array.isArray(v)) return v as T[];
  return isPlaceholder(v) ? [v as unknown as T] : [];
}

/** An object parameter as a plan uses it: the object, else {} (a placeholder has no entries yet). */
export function planRecord<T = unknown>(v: unknown): Record<string, T> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, T>) : {};
}

/** `nodes <earlier.output.nodes>`: a note saying which placeholder a step stands for, or undefined. */
export function placeholderNote(what: string, v: unknown): string | undefined {
  return isPlaceholder(v) ? `${what}: ${v} (known at run time)` : undefined;
}
