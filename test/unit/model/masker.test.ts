import { describe, expect, it } from 'vitest';
import { Masker } from '../../../src/model/masker.js';

const SECRET = 'tok3n/with+odd chars&more';

function masker(...secrets: string[]): Masker {
  const m = new Masker();
  for (const s of secrets) m.add(s);
  return m;
}

describe('Masker: encodings of a secret', () => {
  it('masks the secret, its JSON escape, and its URL encodings (upper- or lower-case hex, + for a space)', () => {
    const m = masker(SECRET, 'quote"d\\value');
    const url = encodeURIComponent(SECRET);
    for (const text of [SECRET, url, url.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()), url.replace(/%20/g, '+'), JSON.stringify('quote"d\\value')]) {
      const out = m.mask(`before ${text} after`);
      expect(out, text).toMatch(/^before .*\*\*\*.* after$/);
      expect(out, text).not.toContain('odd');
      expect(out, text).not.toContain('quote');
    }
  });

  it('masks base64 and base64url whether the secret starts the encoded value or sits inside it (a Basic header)', () => {
    const m = masker(SECRET);
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const b64url = (s: string) => Buffer.from(s).toString('base64url');
    const plain = (s: string) => Buffer.from(s, 'base64').toString('utf8');
    for (const prefix of ['', 'u:', 'ab:', 'ops@example.com:', 'ops@example.co:', 'ops@example.c:']) {
      for (const encode of [b64, b64url]) {
        const encoded = encode(`${prefix}${SECRET}`);
        const out = m.mask(`Authorization: Basic ${encoded}`);
        expect(out, `${prefix} ${encoded}`).toContain('***');
        // What survives around the mask decodes to at most two bytes of the secret on each side.
        const survivors = out.slice('Authorization: Basic '.length).split('***');
        for (const piece of survivors) expect(plain(piece.replace(/-/g, '+').replace(/_/g, '/'))).not.toMatch(/odd|with|more|tok3n/);
      }
    }
  });

  it('leaves unrelated text alone, and short secrets unmasked (they would mangle everything)', () => {
    const m = masker(SECRET, 'abc');
    const text = `deploy abc to ${Buffer.from('nothing secret here').toString('base64')}`;
    expect(m.mask(text)).toBe(text);
  });
});
