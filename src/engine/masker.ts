/** Replaces every known secret value (and its JSON, URL and base64 encodings) with `***`. */
export class Masker {
  private readonly needles = new Set<string>();
  private sorted: string[] | undefined;

  /** Shortest secret accepted: masking shorter strings would mangle unrelated text. */
  static readonly MIN_SECRET_LENGTH = 4;

  add(secret: string): void {
    if (secret.length < Masker.MIN_SECRET_LENGTH) return;
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

  /** Deep copy of a JSON value with every string masked. */
  maskValue<T>(value: T): T {
    if (this.needles.size === 0) return value;
    return JSON.parse(this.mask(JSON.stringify(value))) as T;
  }
}
