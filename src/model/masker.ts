/** Replaces every known secret value (and its JSON, URL and base64 encodings) with `***`. */
export class Masker {
  private readonly needles = new Set<string>();
  /** The secrets as given (a piece of one can be left where output was cut). */
  private readonly raw = new Set<string>();
  private sorted: string[] | undefined;

  /** Shortest secret accepted: masking shorter strings would mangle unrelated text. */
  static readonly MIN_SECRET_LENGTH = 4;

  add(secret: string): void {
    if (secret.length < Masker.MIN_SECRET_LENGTH) return;
    this.raw.add(secret);
    const variants = [
      secret,
      JSON.stringify(secret).slice(1, -1),
      encodeURIComponent(secret),
      Buffer.from(secret).toString('base64'),
      Buffer.from(secret).toString('base64').replace(/=+$/, ''),
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
