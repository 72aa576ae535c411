import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FetchHttpClient } from '../../../src/adapters/fetch-http-client.js';
import { SystemClock } from '../../../src/adapters/system-clock.js';
import { HttpTransportError } from '../../../src/ports/http-client.js';

describe('FetchHttpClient', () => {
  let server: Server;
  let base: string;
  const client = new FetchHttpClient();

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/echo') {
          res.writeHead(201, { 'Content-Type': 'application/json', 'X-Custom': 'yes' });
          res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization ?? null }));
        } else if (req.url === '/redirect') {
          res.writeHead(302, { Location: '/echo' });
          res.end();
        } else if (req.url === '/slow') {
          setTimeout(() => res.end('late'), 2000).unref();
        } else if (req.url === '/big') {
          res.writeHead(200);
          // Chunked, so no content-length: the streaming bound must catch it.
          for (let i = 0; i < 64; i++) res.write('x'.repeat(1024));
          res.end();
        } else {
          res.writeHead(500);
          res.end('boom');
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('sends the request and returns status, lower-cased headers and body', async () => {
    const r = await client.request({ method: 'POST', url: `${base}/echo`, headers: { Authorization: 'Bearer t' }, body: '{"a":1}' });
    expect(r.status).toBe(201);
    expect(r.headers['x-custom']).toBe('yes');
    expect(JSON.parse(r.body)).toEqual({ method: 'POST', body: '{"a":1}', auth: 'Bearer t' });
    expect(r.durationMs).toBeGreaterThan(0);
  });

  it('returns error statuses and redirects as responses', async () => {
    expect((await client.request({ method: 'GET', url: `${base}/nope` })).status).toBe(500);
    const r = await client.request({ method: 'POST', url: `${base}/redirect`, body: 'x' });
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/echo');
  });

  async function transportCode(promise: Promise<unknown>): Promise<string> {
    const error = await promise.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HttpTransportError);
    return (error as HttpTransportError).code;
  }

  it('classifies transport failures', async () => {
    expect(await transportCode(client.request({ method: 'GET', url: `${base}/slow`, timeoutMs: 100 }))).toBe('timeout');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    expect(await transportCode(client.request({ method: 'GET', url: `${base}/slow`, signal: controller.signal }))).toBe('aborted');
    expect(await transportCode(client.request({ method: 'GET', url: 'not a url' }))).toBe('invalid_url');
    expect(await transportCode(client.request({ method: 'GET', url: 'file:///etc/passwd' }))).toBe('invalid_url');
    expect(await transportCode(client.request({ method: 'GET', url: 'http://127.0.0.1:1/' }))).toBe('connection');
    expect(await transportCode(client.request({ method: 'GET', url: `${base}/big`, maxResponseBytes: 10_000 }))).toBe('too_large');
    expect((await client.request({ method: 'GET', url: `${base}/big` })).body.length).toBe(65_536);
  });
});

describe('SystemClock', () => {
  const clock = new SystemClock();
  it('tells the time and sleeps', async () => {
    const before = Date.now();
    expect(Math.abs(clock.now().getTime() - before)).toBeLessThan(1000);
    await clock.sleep(20);
    expect(Date.now() - before).toBeGreaterThanOrEqual(15);
  });
  it('rejects with the signal reason when aborted', async () => {
    const reason = new Error('stop');
    await expect(clock.sleep(10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    const controller = new AbortController();
    const sleeping = clock.sleep(10_000, controller.signal);
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);
  });
});
