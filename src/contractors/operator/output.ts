/** Reading an operator action's stdout into its outputs: json, lines, text or none, plus `output.map`. */
import { getPath } from '../../definitions/expression-eval.js';
import { tailText } from '../http-util.js';
import type { OperatorActionDefinition } from './operator-action.js';

export class OutputParseError extends Error {
  override readonly name = 'OutputParseError';
}

/**
 * Concatenated JSON documents (`talosctl get -o json`, several `kubectl get -o json` objects,
 * JSON lines) as a list. Only objects and arrays are accepted at the top level of a stream.
 */
function parseJsonStream(text: string): unknown[] | undefined {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      if (depth === 0) return undefined;
      inString = true;
    } else if (c === '{' || c === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 0) {
        try {
          out.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          return undefined;
        }
      }
    } else if (depth === 0 && !/\s/.test(c as string)) return undefined;
  }
  return depth === 0 && out.length > 0 ? out : undefined;
}

/** stdout as JSON: null when empty, a list for a stream of documents. Throws OutputParseError. */
export function parseJsonOutput(stdout: string): unknown {
  const text = stdout.trim();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch (e) {
    const stream = parseJsonStream(text);
    if (stream) return stream;
    throw new OutputParseError(`standard output is not JSON (${(e as Error).message.split('\n')[0]})`);
  }
}

export function outputLines(stdout: string): string[] {
  return stdout
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
}

/** The outputs an operator action declares, from its exit code and stdout. Throws OutputParseError. */
export function readOutputs(def: OperatorActionDefinition, exitCode: number | null, stdout: string): Record<string, unknown> {
  const outputs: Record<string, unknown> = { exit_code: exitCode };
  let doc: unknown;
  switch (def.format) {
    case 'none':
      return outputs;
    case 'text':
      outputs.stdout = tailText(stdout.trimEnd());
      return outputs;
    case 'json':
      doc = parseJsonOutput(stdout);
      if (def.map.length === 0) outputs.json = doc;
      break;
    case 'lines':
      doc = outputLines(stdout);
      if (def.map.length === 0) outputs.lines = doc;
      break;
  }
  for (const m of def.map) outputs[m.key] = getPath(doc, m.path) ?? null;
  return outputs;
}
