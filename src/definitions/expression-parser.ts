/**
 * Parser for the definition expression language. Hand-written recursive descent: no `eval`,
 * no `new Function`, bounded depth, and every failure is an ExpressionSyntaxError with an offset.
 *
 *   template   := (text | '${' expr '}')*          ("$${" is a literal "${")
 *   expr       := or
 *   or         := and ('||' and)*
 *   and        := not ('&&' not)*
 *   not        := '!' not | compare
 *   compare    := primary (('=='|'!='|'<'|'<='|'>'|'>=') primary | 'not'? 'in' primary)?
 *   primary    := '(' expr ')' | '${' expr '}' | literal | list | path
 *   path       := ident ('.' ident | '[' int ']' | '[' string ']')*
 */

export type PathSegment = string | number;

export type Expr =
  | { kind: 'literal'; value: string | number | boolean | null }
  | { kind: 'ref'; path: PathSegment[]; text: string }
  | { kind: 'list'; items: Expr[] }
  | { kind: 'not'; operand: Expr }
  | { kind: 'and' | 'or'; left: Expr; right: Expr }
  | { kind: 'compare'; op: CompareOp; left: Expr; right: Expr };

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'not in';

export type TemplatePart = { kind: 'text'; text: string } | { kind: 'expr'; expr: Expr; source: string };

/** A string value from a definition, split into literal text and `${...}` expressions. */
export interface Template {
  parts: TemplatePart[];
  /** True when the whole string is exactly one `${...}`: its value keeps its type. */
  isWhole: boolean;
}

export class ExpressionSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'ExpressionSyntaxError';
  }
}

const MAX_DEPTH = 64;
const MAX_LENGTH = 8192;
const IDENT_START = /[A-Za-z_]/;
const IDENT_CHAR = /[A-Za-z0-9_-]/;

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly src: string) {}

  parseCondition(): Expr {
    const e = this.expr();
    this.ws();
    if (this.pos < this.src.length) this.fail(`unexpected "${this.src.slice(this.pos, this.pos + 10)}"`);
    return e;
  }

  /** Parses `expr '}'` starting just after a `${`; returns the expression and leaves pos after `}`. */
  parseEmbedded(): Expr {
    const e = this.expr();
    this.ws();
    if (this.src[this.pos] !== '}') this.fail('expected "}" to close "${"');
    this.pos++;
    return e;
  }

  get offset(): number {
    return this.pos;
  }

  set offset(p: number) {
    this.pos = p;
  }

  private fail(message: string): never {
    throw new ExpressionSyntaxError(`${message} at offset ${this.pos}`, this.pos);
  }

  private ws(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] as string)) this.pos++;
  }

  private peek(s: string): boolean {
    this.ws();
    return this.src.startsWith(s, this.pos);
  }

  private eat(s: string): boolean {
    if (this.peek(s)) {
      this.pos += s.length;
      return true;
    }
    return false;
  }

  private nested<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) this.fail(`expression nested deeper than ${MAX_DEPTH}`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private expr(): Expr {
    return this.nested(() => this.or());
  }

  private or(): Expr {
    const operands = [this.and()];
    while (this.eat('||')) operands.push(this.and());
    return balance('or', operands, 0, operands.length);
  }

  private and(): Expr {
    const operands = [this.not()];
    while (this.eat('&&')) operands.push(this.not());
    return balance('and', operands, 0, operands.length);
  }

  private not(): Expr {
    if (this.peek('!') && !this.peek('!=')) {
      this.pos++;
      return this.nested(() => ({ kind: 'not', operand: this.not() }) as Expr);
    }
    return this.compare();
  }

  private keyword(word: string): boolean {
    this.ws();
    if (!this.src.startsWith(word, this.pos)) return false;
    const after = this.src[this.pos + word.length];
    if (after !== undefined && IDENT_CHAR.test(after)) return false;
    this.pos += word.length;
    return true;
  }

  private compare(): Expr {
    const left = this.primary();
    for (const op of ['==', '!=', '<=', '>=', '<', '>'] as const) {
      if (this.eat(op)) return { kind: 'compare', op, left, right: this.primary() };
    }
    const save = this.pos;
    if (this.keyword('not')) {
      if (this.keyword('in')) return { kind: 'compare', op: 'not in', left, right: this.primary() };
      this.pos = save;
    }
    if (this.keyword('in')) return { kind: 'compare', op: 'in', left, right: this.primary() };
    return left;
  }

  private primary(): Expr {
    this.ws();
    const c = this.src[this.pos];
    if (c === undefined) this.fail('unexpected end of expression');
    if (c === '(') {
      this.pos++;
      const e = this.expr();
      if (!this.eat(')')) this.fail('expected ")"');
      return e;
    }
    if (this.src.startsWith('${', this.pos)) {
      this.pos += 2;
      return this.nested(() => this.parseEmbedded());
    }
    if (c === '[') {
      this.pos++;
      const items: Expr[] = [];
      if (!this.eat(']')) {
        do items.push(this.nested(() => this.primary()));
        while (this.eat(','));
        if (!this.eat(']')) this.fail('expected "]" to close the list');
      }
      return { kind: 'list', items };
    }
    if (c === "'" || c === '"') return { kind: 'literal', value: this.string(c) };
    if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(this.src[this.pos + 1] ?? ''))) return this.number();
    if (IDENT_START.test(c)) {
      for (const [word, value] of [
        ['true', true],
        ['false', false],
        ['null', null],
      ] as const) {
        const save = this.pos;
        if (this.keyword(word)) return { kind: 'literal', value };
        this.pos = save;
      }
      return this.path();
    }
    this.fail(`unexpected "${c}"`);
  }

  private string(quote: string): string {
    this.pos++;
    let out = '';
    while (this.pos < this.src.length) {
      const c = this.src[this.pos++] as string;
      if (c === quote) return out;
      if (c === '\\') {
        const n = this.src[this.pos++];
        if (n === undefined) break;
        out += n === 'n' ? '\n' : n === 't' ? '\t' : n;
      } else out += c;
    }
    this.fail('unterminated string literal');
  }

  private number(): Expr {
    const m = /^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.src.slice(this.pos));
    if (!m) this.fail('bad number');
    this.pos += m[0].length;
    return { kind: 'literal', value: Number(m[0]) };
  }

  /** A name inside a path. No whitespace is skipped: `a. b` is not `a.b`. */
  private ident(): string {
    const start = this.pos;
    if (!IDENT_START.test(this.src[this.pos] ?? '')) this.fail('expected a name');
    while (this.pos < this.src.length && IDENT_CHAR.test(this.src[this.pos] as string)) this.pos++;
    return this.src.slice(start, this.pos);
  }

  private path(): Expr {
    const start = this.pos;
    const path: PathSegment[] = [this.ident()];
    for (;;) {
      if (this.src[this.pos] === '.') {
        this.pos++;
        path.push(this.ident());
      } else if (this.src[this.pos] === '[') {
        this.pos++;
        this.ws();
        const c = this.src[this.pos];
        if (c === "'" || c === '"') path.push(this.string(c));
        else {
          const m = /^[0-9]+/.exec(this.src.slice(this.pos));
          if (!m) this.fail('expected an index or a quoted key inside "[ ]"');
          this.pos += m[0].length;
          path.push(Number(m[0]));
        }
        if (!this.eat(']')) this.fail('expected "]"');
      } else break;
      if (path.length > MAX_DEPTH) this.fail('reference path too long');
    }
    return { kind: 'ref', path, text: this.src.slice(start, this.pos).trim() };
  }
}

/**
 * Builds a balanced tree for a chain `a || b || c ...` so that a long flat chain (thousands of
 * operands fit in MAX_LENGTH) cannot make the tree, and every recursive walk over it, thousands
 * of levels deep. `&&` and `||` are associative and evaluation stays left to right.
 */
function balance(kind: 'and' | 'or', operands: Expr[], from: number, to: number): Expr {
  if (to - from === 1) return operands[from] as Expr;
  const mid = from + Math.ceil((to - from) / 2);
  return { kind, left: balance(kind, operands, from, mid), right: balance(kind, operands, mid, to) };
}

function checkLength(src: string): void {
  if (src.length > MAX_LENGTH) throw new ExpressionSyntaxError(`expression longer than ${MAX_LENGTH} characters`, 0);
}

/** Parses a condition such as `${parameters.severity} == 'critical' || x in ['a', 'b']`. */
export function parseCondition(src: string): Expr {
  checkLength(src);
  if (src.trim() === '') throw new ExpressionSyntaxError('empty condition', 0);
  return new Parser(src).parseCondition();
}

/** Splits a definition string into text and `${...}` parts. Strings without `${` parse to one text part. */
export function parseTemplate(src: string): Template {
  if (!src.includes('${')) return { parts: [{ kind: 'text', text: src }], isWhole: false };
  checkLength(src);
  const parts: TemplatePart[] = [];
  const parser = new Parser(src);
  let text = '';
  let i = 0;
  while (i < src.length) {
    if (src.startsWith('$${', i)) {
      text += '${';
      i += 3;
    } else if (src.startsWith('${', i)) {
      if (text) parts.push({ kind: 'text', text });
      text = '';
      parser.offset = i + 2;
      const expr = parser.parseEmbedded();
      parts.push({ kind: 'expr', expr, source: src.slice(i, parser.offset) });
      i = parser.offset;
    } else {
      text += src[i];
      i++;
    }
  }
  if (text) parts.push({ kind: 'text', text });
  const isWhole = parts.length === 1 && parts[0]?.kind === 'expr';
  return { parts, isWhole };
}

/** Every reference an expression reads, in source order. */
export function collectRefs(expr: Expr, out: Array<Extract<Expr, { kind: 'ref' }>> = []): typeof out {
  switch (expr.kind) {
    case 'ref':
      out.push(expr);
      break;
    case 'list':
      for (const item of expr.items) collectRefs(item, out);
      break;
    case 'not':
      collectRefs(expr.operand, out);
      break;
    case 'and':
    case 'or':
    case 'compare':
      collectRefs(expr.left, out);
      collectRefs(expr.right, out);
      break;
    case 'literal':
      break;
  }
  return out;
}

/** Prints a path in the syntax `path` parses: `a.b[0]['odd key']`. */
export function formatPath(path: readonly PathSegment[]): string {
  return path
    .map((s, i) =>
      typeof s === 'number'
        ? `[${s}]`
        : /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)
          ? i
            ? `.${s}`
            : s
          : `['${s.replace(/[\\']/g, (c) => `\\${c}`)}']`,
    )
    .join('');
}
