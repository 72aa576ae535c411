import { readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { LineCounter, parseDocument, isMap, isPair, isScalar, visit, type Document } from 'yaml';
import { DefinitionInvalidError, type Issue } from '../errors.js';

/** Largest definition, parameter or config file cortex reads. */
export const MAX_DOCUMENT_BYTES = 5 * 1024 * 1024;
/** Deepest nesting of objects/arrays accepted in a document. */
export const MAX_DOCUMENT_DEPTH = 100;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export type DocumentFormat = 'json' | 'yaml';

/** A parsed JSON/YAML file that can map a JSON pointer back to line:column. */
export interface SourceDocument {
  data: unknown;
  text: string;
  format: DocumentFormat;
  displayPath: string;
  hash: string;
  /** Issue at a pointer, with line and column filled in when the pointer exists in the source. */
  issueAt(pointer: string, message: string): Issue;
}

export function formatOf(path: string): DocumentFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  return undefined;
}

export function pointerToPath(pointer: string): string[] {
  if (pointer === '' || pointer === '/') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function pathToPointer(path: ReadonlyArray<string | number>): string {
  return path.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

/** Max bracket depth of JSON text, ignoring brackets inside strings (stops counting past MAX_DOCUMENT_DEPTH). Cheap guard before JSON.parse. */
export function jsonDepth(text: string): { depth: number; offset: number } {
  let depth = 0;
  let max = 0;
  let at = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) {
        max = depth;
        at = i;
        if (max > MAX_DOCUMENT_DEPTH) break;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return { depth: max, offset: at };
}

/** A value nested deeper than MAX_DOCUMENT_DEPTH (walking it could exhaust the stack). */
export class TooDeepError extends Error {
  constructor() {
    super(`nesting deeper than ${MAX_DOCUMENT_DEPTH} levels is not accepted`);
  }
}

/** JSON.parse for a value given on the command line: throws TooDeepError past MAX_DOCUMENT_DEPTH, SyntaxError when not JSON. */
export function parseJsonBounded(text: string): unknown {
  if (jsonDepth(text).depth > MAX_DOCUMENT_DEPTH) throw new TooDeepError();
  return JSON.parse(text) as unknown;
}

/**
 * Offset of the first JSON syntax error (Node 20's JSON.parse does not always say where).
 * Iterative, so deep nesting cannot overflow the stack.
 */
export function jsonErrorOffset(text: string): { offset: number; message: string } | undefined {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const fail = (message: string) => ({ offset: i, message });
  const stack: Array<'{' | '['> = [];
  // expect: 'value' | 'key' | 'colon' | 'comma-or-end'
  let expect: 'value' | 'key' | 'colon' | 'after' = 'value';
  let first = false;
  for (;;) {
    ws();
    if (expect === 'value') {
      if (i >= n) return fail('unexpected end of input');
      const c = text[i] as string;
      if (c === '{' || c === '[') {
        stack.push(c);
        i++;
        first = true;
        ws();
        if (text[i] === (c === '{' ? '}' : ']')) {
          i++;
          stack.pop();
          expect = 'after';
          continue;
        }
        expect = c === '{' ? 'key' : 'value';
        continue;
      }
      if (c === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\') i++;
          else if ((text.charCodeAt(i) as number) < 0x20) return fail('control character in string');
          i++;
        }
        if (i >= n) return fail('unterminated string');
        i++;
      } else {
        const m = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?|true|false|null)/.exec(text.slice(i, i + 400));
        if (!m) return fail(`unexpected ${JSON.stringify(c)}`);
        i += m[0].length;
      }
      expect = 'after';
      void first;
      continue;
    }
    if (expect === 'key') {
      if (text[i] !== '"') return fail(`expected a property name in double quotes, got ${i < n ? JSON.stringify(text[i]) : 'end of input'}`);
      i++;
      while (i < n && text[i] !== '"') {
        if (text[i] === '\\') i++;
        i++;
      }
      if (i >= n) return fail('unterminated string');
      i++;
      expect = 'colon';
      continue;
    }
    if (expect === 'colon') {
      if (text[i] !== ':') return fail(`expected ":" after the property name`);
      i++;
      expect = 'value';
      continue;
    }
    // after a value
    const top = stack[stack.length - 1];
    if (!top) {
      if (i < n) return fail(`unexpected ${JSON.stringify(text[i])} after the end of the document`);
      return undefined;
    }
    if (text[i] === ',') {
      i++;
      ws();
      expect = top === '{' ? 'key' : 'value';
      if (text[i] === (top === '{' ? '}' : ']')) return fail('trailing comma');
      continue;
    }
    if (text[i] === (top === '{' ? '}' : ']')) {
      i++;
      stack.pop();
      continue;
    }
    return fail(`expected "," or "${top === '{' ? '}' : ']'}"${i < n ? `, got ${JSON.stringify(text[i])}` : ' before the end of input'}`);
  }
}

/**
 * The first key repeated within one object of valid JSON text (JSON.parse keeps the last one
 * silently; YAML refuses the same file). Iterative: deep nesting cannot overflow the stack.
 */
export function jsonDuplicateKey(text: string): { offset: number; key: string } | undefined {
  const stack: Array<Set<string> | null> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') stack.push(new Set());
    else if (c === '[') stack.push(null);
    else if (c === '}' || c === ']') stack.pop();
    else if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j] as string)) j++;
      const keys = stack[stack.length - 1];
      if (text[j] === ':' && keys) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        if (keys.has(key)) return { offset: start, key };
        keys.add(key);
      }
    }
  }
  return undefined;
}

function checkTree(value: unknown, file: string, issueAt: (p: string, m: string) => Issue): void {
  const stack: Array<{ v: unknown; path: Array<string | number>; depth: number }> = [{ v: value, path: [], depth: 0 }];
  while (stack.length) {
    const { v, path, depth } = stack.pop() as (typeof stack)[number];
    if (v === null || typeof v !== 'object') continue;
    if (depth > MAX_DOCUMENT_DEPTH) {
      throw new DefinitionInvalidError([
        issueAt(pathToPointer(path), `nesting deeper than ${MAX_DOCUMENT_DEPTH} levels is not accepted`),
      ]);
    }
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, path: [...path, i], depth: depth + 1 }));
    else
      for (const k of Object.keys(v)) {
        if (FORBIDDEN_KEYS.has(k)) {
          throw new DefinitionInvalidError([
            issueAt(pathToPointer([...path, k]), `the key "${k}" is not allowed (it could alter object prototypes)`),
          ]);
        }
        stack.push({ v: (v as Record<string, unknown>)[k], path: [...path, k], depth: depth + 1 });
      }
  }
  void file;
}

/**
 * issueAt for a document's text: positions come from its YAML tree (JSON is YAML), parsed on the
 * first issue, or given by `seed` when the file was read as YAML (the tree it was read from: a
 * second parse for the first warning was a third of `cortex validate`'s CPU).
 */
function makeIssueAt(text: string, displayPath: string): { issueAt: (pointer: string, message: string) => Issue; seed: (d: Document, c: LineCounter) => void } {
  let doc: Document | undefined;
  let counter: LineCounter | undefined;
  const seed = (d: Document, c: LineCounter): void => {
    doc = d;
    counter = c;
  };
  const locate = (pointer: string): { line: number; column: number } | undefined => {
    try {
      if (!doc) {
        counter = new LineCounter();
        doc = parseDocument(text, { lineCounter: counter, uniqueKeys: false, strict: false });
      }
      const path = pointerToPath(pointer).map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
      let node: unknown = doc.contents;
      let range: [number, number, number] | undefined = (node as { range?: [number, number, number] })?.range;
      for (const seg of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
          if (!pair) break;
          range = (pair.key as { range?: [number, number, number] }).range ?? range;
          node = pair.value;
          const vr = (node as { range?: [number, number, number] })?.range;
          if (vr && !(isMap(node) || (node as { items?: unknown })?.items)) range = vr;
        } else if (node && typeof node === 'object' && 'items' in node && Array.isArray((node as { items: unknown[] }).items)) {
          const item = (node as { items: unknown[] }).items[seg as number];
          if (item === undefined) break;
          node = item;
          range = (item as { range?: [number, number, number] }).range ?? range;
        } else break;
      }
      if (range && counter) {
        const pos = counter.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    } catch {
      // Position lookup is best effort; the pointer alone still locates the problem.
    }
    return undefined;
  };
  // The position is looked up when first read (shown, printed as JSON, compared): most warnings
  // are only counted, and the built-in workflows are JSON, parsed again as YAML for positions.
  const issueAt = (pointer: string, message: string): Issue => {
    const issue: Issue = { file: displayPath, pointer, message };
    let pos: { line: number; column: number } | undefined | null = null;
    const at = (): { line: number; column: number } | undefined => (pos === null ? (pos = locate(pointer)) : pos);
    Object.defineProperty(issue, 'line', { get: () => at()?.line, enumerable: true, configurable: true });
    Object.defineProperty(issue, 'column', { get: () => at()?.column, enumerable: true, configurable: true });
    return issue;
  };
  return { issueAt, seed };
}

/** Parses text already in memory. Throws DefinitionInvalidError with line:column on any problem. */
export function parseDocumentText(text: string, format: DocumentFormat, displayPath: string): SourceDocument {
  const hash = `sha256:${createHash('sha256').update(text).digest('hex')}`;
  const { issueAt, seed } = makeIssueAt(text, displayPath);
  let data: unknown;
  if (format === 'json') {
    const d = jsonDepth(text);
    if (d.depth > MAX_DOCUMENT_DEPTH) {
      throw new DefinitionInvalidError([
        { file: displayPath, ...lineCol(text, d.offset), message: `nesting deeper than ${MAX_DOCUMENT_DEPTH} levels is not accepted` },
      ]);
    }
    try {
      data = JSON.parse(text);
    } catch (e) {
      const located = jsonErrorOffset(text);
      const where = located ? lineCol(text, located.offset) : lineCol(text, text.length);
      const why = located?.message ?? (e as Error).message.split('\n')[0];
      throw new DefinitionInvalidError([{ file: displayPath, ...where, message: `malformed JSON: ${why}` }]);
    }
    const dup = jsonDuplicateKey(text);
    if (dup) throw new DefinitionInvalidError([{ file: displayPath, ...lineCol(text, dup.offset), message: `duplicate key ${JSON.stringify(dup.key)} in one object (only one may be given)` }]);
  } else {
    const d = jsonDepth(text);
    if (d.depth > MAX_DOCUMENT_DEPTH) {
      throw new DefinitionInvalidError([
        { file: displayPath, ...lineCol(text, d.offset), message: `nesting deeper than ${MAX_DOCUMENT_DEPTH} levels is not accepted` },
      ]);
    }
    const counter = new LineCounter();
    let doc: Document;
    try {
      doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
    } catch (e) {
      if (e instanceof RangeError) {
        throw new DefinitionInvalidError([{ file: displayPath, message: `nesting too deep to read (limit ${MAX_DOCUMENT_DEPTH} levels)` }]);
      }
      throw e;
    }
    const first = doc.errors[0];
    if (first) {
      const pos = counter.linePos(first.pos[0]);
      const why = /call stack/i.test(first.message) ? `nesting too deep to read (limit ${MAX_DOCUMENT_DEPTH} levels)` : `malformed YAML: ${first.message.split('\n')[0]}`;
      throw new DefinitionInvalidError([{ file: displayPath, line: pos.line, column: pos.col, message: why }]);
    }
    let forbidden: Issue | undefined;
    visit(doc, {
      Pair(_, pair) {
        if (isScalar(pair.key) && FORBIDDEN_KEYS.has(String(pair.key.value))) {
          const range = (pair.key as { range?: [number, number, number] }).range;
          const pos = range ? counter.linePos(range[0]) : undefined;
          forbidden = {
            file: displayPath,
            ...(pos ? { line: pos.line, column: pos.col } : {}),
            message: `the key "${String(pair.key.value)}" is not allowed (it could alter object prototypes)`,
          };
          return visit.BREAK;
        }
        return undefined;
      },
    });
    if (forbidden) throw new DefinitionInvalidError([forbidden]);
    seed(doc, counter);
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      const message = e instanceof RangeError ? `nesting too deep to read (limit ${MAX_DOCUMENT_DEPTH} levels)` : `malformed YAML: ${(e as Error).message}`;
      throw new DefinitionInvalidError([{ file: displayPath, message }]);
    }
  }
  checkTree(data, displayPath, issueAt);
  return { data, text, format, displayPath, hash, issueAt };
}

/** Reads and parses a JSON or YAML file with the size, depth and key guards. */
export async function loadDocument(path: string, displayPath: string, formatHint?: DocumentFormat): Promise<SourceDocument> {
  const format = formatHint ?? formatOf(path);
  if (!format) {
    throw new DefinitionInvalidError([{ file: displayPath, message: 'expected a .json, .yaml or .yml file' }]);
  }
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new DefinitionInvalidError([{ file: displayPath, message: 'not a regular file' }]);
    size = st.size;
  } catch (e) {
    if (e instanceof DefinitionInvalidError) throw e;
    throw new DefinitionInvalidError([{ file: displayPath, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }]);
  }
  if (size > MAX_DOCUMENT_BYTES) {
    throw new DefinitionInvalidError([
      { file: displayPath, message: `file is ${(size / 1048576).toFixed(1)} MB; the limit is ${MAX_DOCUMENT_BYTES / 1048576} MB` },
    ]);
  }
  const text = await readFile(path, 'utf8');
  const key = `${format}\0${displayPath}\0${path}`;
  const hit = parsed.get(key);
  // The same text parses to the same data: a copy of it (validation fills in defaults in place).
  if (hit?.doc.text === text) return { ...hit.doc, data: structuredClone(hit.data) };
  const doc = parseDocumentText(text, format, displayPath);
  if (parsed.size >= MAX_PARSED) parsed.clear();
  parsed.set(key, { doc, data: structuredClone(doc.data) });
  return doc;
}

/**
 * Documents parsed by this process, by file, with their data as parsed: a long-lived process
 * (serve) reads the workflow definitions for every run it creates and drives, and parsing YAML
 * cost more than reading the file and copying the data.
 */
const parsed = new Map<string, { doc: SourceDocument; data: unknown }>();
const MAX_PARSED = 512;
