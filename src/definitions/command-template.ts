/**
 * The string form of a command (`execute_command`'s `command: "npm test -- ${parameters.x}"`)
 * is split into words before its expressions are resolved: each `${…}` stays inside the one
 * argument it is written in, whatever its value holds (spaces, quotes, a leading `-`). Word rules
 * are splitWords' (src/config/config.ts): whitespace separates, single and double quotes group,
 * a backslash escapes the next character; nothing else of a shell.
 */

/** Words that would need a shell; cortex runs programs without one. */
export const SHELL_OPERATORS: ReadonlySet<string> = new Set(['|', '||', '&&', ';', '>', '>>', '<', '<<', '&', '2>', '2>&1']);

export class CommandTemplateError extends Error {}

/** The index just past the `}` closing the expression that starts at `start` (at `${`). */
function expressionEnd(text: string, start: number): number {
  let quote: string | null = null;
  for (let i = start + 2; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '}') return i + 1;
  }
  throw new CommandTemplateError(`unterminated \${ at character ${start + 1}`);
}

/**
 * Splits a command template into argument templates. Throws CommandTemplateError for an
 * unterminated quote or expression, a shell operator word, or an empty command.
 */
export function splitCommandTemplate(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let has = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '$' && text[i + 1] === '{') {
      const end = expressionEnd(text, i);
      cur += text.slice(i, end);
      has = true;
      i = end - 1;
    } else if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) words.push(cur);
      cur = '';
      has = false;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      has = true;
    } else {
      cur += c;
      has = true;
    }
  }
  if (quote) throw new CommandTemplateError(`unterminated ${quote} quote`);
  if (has || cur) words.push(cur);
  if (words.length === 0) throw new CommandTemplateError('empty command');
  const op = words.find((w) => SHELL_OPERATORS.has(w) || /^\$\(|^`/.test(w));
  if (op !== undefined) throw new CommandTemplateError(`"${op}" is a shell feature: cortex runs programs without a shell (give an argument array, or run a script)`);
  return words;
}
