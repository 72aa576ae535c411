/**
 * The parts of the base64 (and base64url) text of `secret` that are the same wherever the secret
 * sits in a longer encoded value (`user:token` in a Basic header, a token inside a JSON document
 * then encoded): for each of the three byte alignments, the 4-character groups made of the
 * secret's bytes only. Groups shared with the bytes around it are left (they hold at most two
 * bytes of the secret, mixed with others).
 */
function base64Cores(secret: string): string[] {
  const bytes = Buffer.from(secret);
  const out: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const start = offset === 0 ? 0 : 4;
    const end = 4 * Math.floor((offset + bytes.length) / 3);
    const core = encoded.slice(start, end);
    if (core.length >= Masker.MIN_ENCODED_CORE) out.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/**
 * Replaces every known secret value and its common encodings with `***`: JSON string escapes,
 * URL encoding (either case of hex digits; `+` for a space, as in forms), base64 and base64url
 * (whole, and inside a longer encoded value at any alignment; see base64Cores).
 * Not masked (cannot be, without masking everything): a secret transformed otherwise (hashed,
 * encrypted, hex-dumped, split by the tool that prints it) and pieces shorter than the minimums.
 */
export class Masker {
  private readonly needles = new Set<string>();
  /** The secrets as given (a piece of one can be left where output was cut). */
  private readonly raw = new Set<string>();
  private sorted: string[] | undefined;

  /** Shortest secret accepted: masking shorter strings would mangle unrelated text. */
  static readonly MIN_SECRET_LENGTH = 4;
  /** Shortest base64 piece masked on its own (a piece of a secret inside a longer encoded value). */
  static readonly MIN_ENCODED_CORE = 8;

  add(secret: string): void {
    if (secret.length < Masker.MIN_SECRET_LENGTH) return;
    this.raw.add(secret);
    const url = encodeURIComponent(secret);
    const base64 = Buffer.from(secret).toString('base64');
    const variants = [
      secret,
      JSON.stringify(secret).slice(1, -1),
      url,
      url.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
      url.replace(/%20/g, '+'),
      base64,
      base64.replace(/=+$/, ''),
      base64.replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_'),
      ...base64Cores(secret),
    ];
    for (const v of variants) if (v.length >= Masker.MIN_SECRET_LENGTH) this.needles.add(v);
    this.sorted = undefined;
  }

  get size(): number {
    return this.needles.size;
  }

  mask(text: string): string {
    if (this.needles.size === 0 || text.length === 0) return text;
    this.sorted ??= [...this.needles].sort((a, b) => b.length - a.length);
    let out = text;
    for (const n of this.sorted) if (out.includes(n)) out = out.split(n).join('***');
    return out;
  }

  /**
   * Masks the piece of a secret that a cut left at the start of `text` (output kept from its
   * tail: the secret's end survived, its start was cut away). Pieces shorter than
   * MIN_PIECE_LENGTH are left: they tell nothing and would mask unrelated text.
   */
  maskCutStart(text: string): string {
    let best = 0;
    for (const secret of this.raw) {
      for (let k = secret.length - 1; k >= Masker.MIN_PIECE_LENGTH && k > best; k--) {
        if (text.startsWith(secret.slice(secret.length - k))) {
          best = k;
          break;
        }
      }
    }
    return best ? `***${text.slice(best)}` : text;
  }

  static readonly MIN_PIECE_LENGTH = 3;

  /** The last `max` characters of `text` masked: masked before the cut, and a piece left at the cut masked too. */
  tail(text: string, max: number, marker = '…'): string {
    const masked = this.mask(text);
    if (masked.length <= max) return masked;
    return `${marker}${masked.slice(masked.length - max + marker.length)}`;
  }

  /** A value whose strings cut to their tail (they start with the `…` marker) have a leading secret piece masked. */
  maskCutValues<T>(value: T): T {
    if (this.raw.size === 0) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return v.startsWith('…') ? `…${this.maskCutStart(v.slice(1))}` : v;
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return walk(value) as T;
  }

  /** Deep copy of a JSON value with every string masked. */
  maskValue<T>(value: T): T {
    if (this.needles.size === 0) return value;
    return JSON.parse(this.mask(JSON.stringify(value))) as T;
  }
}
