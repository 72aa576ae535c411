import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sinkFor } from '../../../src/cli/output.js';

/** A stream whose writes fail with EPIPE once its reader has gone. */
function pipe(): { stream: Writable; written: string[]; readerGone(): void } {
  const written: string[] = [];
  let isReaderGone = false;
  const stream = new Writable({
    write(chunk, _encoding, done) {
      if (isReaderGone) done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      else {
        written.push(String(chunk));
        done();
      }
    },
  });
  return { stream, written, readerGone: () => (isReaderGone = true) };
}

describe('sinkFor', () => {
  it('once a write fails because the reader left, drops the next writes without an error event escaping', async () => {
    const p = pipe();
    const sink = sinkFor(p.stream);
    sink.write('one\n');
    expect(sink.isGone).toBe(false);
    p.readerGone();
    sink.write('two\n');
    sink.write('three\n');
    await new Promise((res) => setImmediate(res));
    expect(sink.isGone).toBe(true);
    sink.write('four\n');
    expect(p.written).toEqual(['one\n']);
  });

  it('is one sink per stream', () => {
    const p = pipe();
    expect(sinkFor(p.stream)).toBe(sinkFor(p.stream));
    expect(p.stream.listenerCount('error')).toBe(1);
  });
});
