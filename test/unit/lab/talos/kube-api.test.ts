/**
 * The stand-ins' client of the lab API server (node:http on the plain face): what the server gets
 * and what the stand-in sees, the same as over fetch, unreachable included.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { kubeRequest } from '../../../../src/lab/talos/kube-api.js';

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  server = undefined;
});

interface Seen {
  method?: string;
  url?: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function serve(status: number, reply: string): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(reply);
    });
  });
  await new Promise<void>((done) => server?.listen(0, '127.0.0.1', () => done()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

describe('kubeRequest', () => {
  it('sends the method, path, token, content type and JSON body, and parses the JSON reply', async () => {
    const { url, seen } = await serve(201, '{"kind":"Node","metadata":{"name":"n1"}}');
    const reply = await kubeRequest({ url, token: 'lab.a.1.e' }, 'POST', '/api/v1/nodes', { kind: 'Node', metadata: { name: 'n1', labels: { 'x/é': 'ü' } } });
    expect(reply).toEqual({ status: 201, body: { kind: 'Node', metadata: { name: 'n1' } }, text: '{"kind":"Node","metadata":{"name":"n1"}}' });
    expect(seen).toHaveLength(1);
    expect(seen[0]?.method).toBe('POST');
    expect(seen[0]?.url).toBe('/api/v1/nodes');
    expect(seen[0]?.headers.authorization).toBe('Bearer lab.a.1.e');
    expect(seen[0]?.headers['content-type']).toBe('application/json');
    expect(seen[0]?.headers['user-agent']).toBe('cortex-lab-standin');
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({ kind: 'Node', metadata: { name: 'n1', labels: { 'x/é': 'ü' } } });
  });

  it('sends a string body as is with its content type, and no content type without a body', async () => {
    const { url, seen } = await serve(404, 'not json');
    const patched = await kubeRequest({ url, token: 't' }, 'PATCH', '/api/v1/nodes/n1', '{"spec":{}}', 'application/merge-patch+json');
    expect(patched).toEqual({ status: 404, body: undefined, text: 'not json' });
    await kubeRequest({ url, token: 't' }, 'DELETE', '/api/v1/nodes/n1');
    expect(seen.map((s) => [s.method, s.headers['content-type'], s.body])).toEqual([
      ['PATCH', 'application/merge-patch+json', '{"spec":{}}'],
      ['DELETE', undefined, ''],
    ]);
  });

  it('reports an unreachable server as status 0 with fetch\'s text', async () => {
    const { url } = await serve(200, '{}');
    await new Promise<void>((done) => server?.close(() => done()));
    server = undefined;
    expect(await kubeRequest({ url, token: 't' }, 'GET', '/api/v1/nodes')).toEqual({ status: 0, body: undefined, text: 'fetch failed' });
  });
});
