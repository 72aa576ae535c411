import { describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/wait.js';

describe('waitFor (test helper)', () => {
  it('resolves with the first truthy value of the condition, sync or async', async () => {
    let n = 0;
    await expect(waitFor(() => (++n >= 3 ? `seen after ${n}` : undefined), { what: 'three polls', intervalMs: 1 })).resolves.toBe('seen after 3');
    await expect(waitFor(async () => ({ ok: true }), { what: 'an object' })).resolves.toEqual({ ok: true });
  });

  it('fails naming what it waited for and the state seen last', async () => {
    await expect(waitFor(() => false, { what: 'the run to end', timeoutMs: 30, intervalMs: 5, detail: () => '0 records' })).rejects.toThrow(
      /^timed out after 30 ms waiting for the run to end; last seen: 0 records$/,
    );
  });

  it('lets an error of the condition through', async () => {
    await expect(waitFor(() => JSON.parse('{'), { what: 'a parse' })).rejects.toThrow(SyntaxError);
  });
});
