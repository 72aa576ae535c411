import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { PROJECT } from './helpers.js';
import { prng } from '../torture/torture.js';

// The validators compiled at build time (scripts/build-validators.mjs into dist/validators) must
// judge exactly as ajv compiling the same schema at run time does: same verdict, same errors (with
// their schemas: messages are built from them), same defaults filled in. Checked on the built
// module, against a fresh run-time compile, over real documents and seeded mutations of them.
type Validate = ((data: unknown) => boolean) & { errors?: unknown };
interface SchemasModule {
  VALIDATORS_DIR: string;
  createAjv(flavour: 'definitions' | 'runtime'): { addSchema(s: object): unknown; getSchema(id: string): Validate | undefined; compile(s: object): Validate };
  schemaHash(text: string): string;
  adHocValidatorFile(flavour: 'definitions' | 'runtime', schema: object): { file: string; hash: string };
  loadPrecompiled(dir: string, file: string, hash: string): Validate | undefined;
}
const schemas = (await import(pathToFileURL(join(PROJECT, 'dist', 'definitions', 'schemas.js')).href)) as SchemasModule;
const { builtinSpecs } = (await import(pathToFileURL(join(PROJECT, 'dist', 'contractors', 'catalogue.js')).href)) as { builtinSpecs(): Array<{ contractor: string; name: string; parameters: { properties?: Record<string, unknown> } }> };

const SCHEMA_NAMES = readdirSync(join(PROJECT, 'schemas'))
  .filter((f) => f.endsWith('.schema.json'))
  .map((f) => f.replace(/\.schema\.json$/, ''));

/** Seeded mutations of a document: a value of another type, a property removed, one added. */
function mutations(doc: unknown, seed: number, count: number): unknown[] {
  const rand = prng(seed);
  const out: unknown[] = [];
  const wrong = [null, 7, -1, 'x', '', true, [], {}, 'not a date', 'UPPER case/with spaces'];
  for (let i = 0; i < count; i++) {
    const copy = structuredClone(doc) as Record<string, unknown>;
    // walk to a random container
    let cur: unknown = copy;
    for (let depth = 0; depth < 6; depth++) {
      const keys = cur && typeof cur === 'object' ? Object.keys(cur) : [];
      if (keys.length === 0 || rand() < 0.2) break;
      const next = (cur as Record<string, unknown>)[keys[Math.floor(rand() * keys.length)] as string];
      if (!next || typeof next !== 'object') break;
      cur = next;
    }
    if (cur && typeof cur === 'object') {
      const obj = cur as Record<string, unknown>;
      const keys = Object.keys(obj);
      const r = rand();
      const key = keys[Math.floor(rand() * keys.length)];
      if (r < 0.45 && key !== undefined) obj[key] = wrong[Math.floor(rand() * wrong.length)];
      else if (r < 0.75 && key !== undefined && !Array.isArray(obj)) delete obj[key];
      else if (!Array.isArray(obj)) obj[`unexpected_${i}`] = 1;
      else obj.push(wrong[Math.floor(rand() * wrong.length)]);
    }
    out.push(copy);
  }
  return out;
}

function samples(name: string): unknown[] {
  const read = (p: string) => (p.endsWith('.json') ? JSON.parse(readFileSync(p, 'utf8')) : parseYaml(readFileSync(p, 'utf8')));
  const dir = join(PROJECT, 'coordination', 'workflows');
  if (name === 'workflow') return [...readdirSync(dir).filter((f) => /\.(json|ya?ml)$/.test(f)).map((f) => read(join(dir, f))), ...readdirSync(join(dir, 'templates')).map((f) => read(join(dir, 'templates', f)))];
  if (name === 'config') return [read(join(PROJECT, 'coordination', 'config.yaml'))];
  return [{}];
}

function verdict(v: Validate, data: unknown): { ok: boolean; errors: unknown; data: unknown } {
  const copy = structuredClone(data);
  const ok = v(copy);
  return { ok, errors: ok ? null : structuredClone(v.errors), data: copy };
}

describe('validators compiled at build time', () => {
  it('exist for every schema of schemas/ and judge every document and mutation as a run-time compile does', () => {
    const fresh = schemas.createAjv('definitions');
    for (const n of SCHEMA_NAMES) fresh.addSchema(JSON.parse(readFileSync(join(PROJECT, 'schemas', `${n}.schema.json`), 'utf8')) as object);
    let checked = 0;
    for (const n of SCHEMA_NAMES) {
      const text = readFileSync(join(PROJECT, 'schemas', `${n}.schema.json`), 'utf8');
      const built = schemas.loadPrecompiled(schemas.VALIDATORS_DIR, `${n}.cjs`, schemas.schemaHash(text));
      expect(built, `dist/validators/${n}.cjs (run npm run build)`).toBeTypeOf('function');
      const runtime = fresh.getSchema((JSON.parse(text) as { $id: string }).$id) as Validate;
      samples(n).forEach((doc, d) => {
        for (const m of [doc, ...mutations(doc, 1000 * d + n.length, 25)]) {
          expect(verdict(built as Validate, m), `${n}: ${JSON.stringify(m).slice(0, 200)}`).toEqual(verdict(runtime, m));
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThan(SCHEMA_NAMES.length * 25);
  });

  it('exist for every built-in action in both flavours, with the same errors and the same defaults filled in', () => {
    for (const spec of builtinSpecs()) {
      for (const flavour of ['definitions', 'runtime'] as const) {
        const what = `${spec.contractor}/${spec.name} (${flavour})`;
        const { file, hash } = schemas.adHocValidatorFile(flavour, spec.parameters);
        const built = schemas.loadPrecompiled(schemas.VALIDATORS_DIR, file, hash);
        expect(built, what).toBeTypeOf('function');
        const runtime = schemas.createAjv(flavour).compile(spec.parameters);
        // Every declared parameter with a value of each kind in turn: types, patterns, ranges, enums.
        const keys = Object.keys(spec.parameters.properties ?? {});
        const kinds = ['x', 1, -5, 3.5, true, null, ['a'], { a: 1 }, '', 'a b/c', 'https://example.com', '10.0.0.1'];
        const docs = kinds.map((_, k) => Object.fromEntries(keys.map((key, i) => [key, kinds[(i + k) % kinds.length]])));
        for (const m of [{}, { unexpected: 1 }, ...docs]) {
          expect(verdict(built as Validate, m), `${what}: ${JSON.stringify(m)}`).toEqual(verdict(runtime, m));
        }
      }
    }
  });

  it('are not used when made from another schema (edited after the build) or missing', () => {
    const text = readFileSync(join(PROJECT, 'schemas', 'handoff.schema.json'), 'utf8');
    expect(schemas.loadPrecompiled(schemas.VALIDATORS_DIR, 'handoff.cjs', schemas.schemaHash(text))).toBeTypeOf('function');
    expect(schemas.loadPrecompiled(schemas.VALIDATORS_DIR, 'handoff.cjs', schemas.schemaHash(`${text} `))).toBeUndefined();
    expect(schemas.loadPrecompiled(schemas.VALIDATORS_DIR, 'no-such-schema.cjs', schemas.schemaHash(text))).toBeUndefined();
  });
});
