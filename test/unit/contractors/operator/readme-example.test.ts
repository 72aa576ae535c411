import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from './helpers.js';

const DOC = readFileSync(fileURLToPath(new URL('../../../../docs/contractors.md', import.meta.url)), 'utf8');

describe('docs/contractors.md: the operator-defined actions example', () => {
  it('loads as written', async () => {
    const at = DOC.indexOf('## Operator-defined actions');
    expect(at).toBeGreaterThanOrEqual(0);
    const section = DOC.slice(at);
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toBeDefined();
    const cat = await load({ 'infrastructure-contractor.yaml': example as string });
    expect(cat.get('infrastructure-contractor', 'drain_backend')?.compensation?.action).toBe('enable_backend');
    expect(Object.keys(cat.get('infrastructure-contractor', 'pool_members')?.outputs ?? {})).toEqual(['exit_code', 'first_ip', 'ready']);
  });
});
