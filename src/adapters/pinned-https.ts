/**
 * One https request trusted by a pinned CA file or certificate fingerprint rather than the
 * system's CAs (node:https; fetch cannot pin). With a fingerprint the TLS handshake is completed
 * and the certificate compared first; the request (and its Authorization header) goes out only
 * on that verified connection.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import { HttpTransportError, type HttpRequest, type HttpResponse } from '../ports/http-client.js';

/** AA:BB:... upper case, as Proxmox and openssl print SHA-256 fingerprints. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/[^0-9A-Fa-f]/g, '').toUpperCase().replace(/(..)(?!$)/g, '$1:');
}

function handshake(url: URL, fingerprint: string, signal: AbortSignal, timedOut: () => boolean): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443), servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname, rejectUnauthorized: false });
    const fail = (e: Error) => {
      socket.destroy();
      reject(e);
    };
    const onAbort = () => fail(timedOut() ? new HttpTransportError(`${url.origin} timed out during the TLS handshake`, 'timeout') : new HttpTransportError(`${url.origin} aborted`, 'aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (e) => fail(new HttpTransportError(`${url.origin} failed: ${(e as NodeJS.ErrnoException).code ?? e.message}`, 'connection')));
    socket.once('secureConnect', () => {
      signal.removeEventListener('abort', onAbort);
      const got = socket.getPeerCertificate().fingerprint256 ?? '';
      if (normalizeFingerprint(got) !== normalizeFingerprint(fingerprint)) {
        fail(new HttpTransportError(`${url.origin}: the server's certificate fingerprint ${got || '(none)'} is not the pinned ${normalizeFingerprint(fingerprint)}`, 'tls'));
        return;
      }
      resolve(socket);
    });
  });
}

/** Sends `req` over https with its `tls` pinning; the same contract as FetchHttpClient.request. */
export async function pinnedHttpsRequest(req: HttpRequest, options: { timeoutMs: number; maxResponseBytes: number }): Promise<HttpResponse> {
  const url = new URL(req.url);
  if (url.protocol !== 'https:') throw new HttpTransportError(`a pinned CA or fingerprint needs an https URL, got ${req.url}`, 'invalid_url');
  const where = `${req.method.toUpperCase()} ${url.origin}${url.pathname}`;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
  const started = performance.now();
  let ca: Buffer | undefined;
  if (req.tls?.caFile) {
    try {
      ca = await readFile(req.tls.caFile);
    } catch (e) {
      throw new HttpTransportError(`${where}: cannot read the CA file ${req.tls.caFile} (${(e as NodeJS.ErrnoException).code})`, 'tls');
    }
  }
  const socket = req.tls?.fingerprint ? await handshake(url, req.tls.fingerprint, signal, () => timeout.aborted) : undefined;
  return new Promise<HttpResponse>((resolve, reject) => {
    const headers = { host: url.host, ...(req.headers ?? {}), ...(req.body !== undefined ? { 'content-length': String(Buffer.byteLength(req.body)) } : {}) };
    const onResponse = (res: import('node:http').IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > options.maxResponseBytes) {
            res.destroy();
            reject(new HttpTransportError(`${where}: response body exceeds ${options.maxResponseBytes} bytes`, 'too_large'));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
          resolve({ status: res.statusCode ?? 0, ...(res.statusMessage ? { statusText: res.statusMessage } : {}), headers, body: Buffer.concat(chunks).toString('utf8'), durationMs: performance.now() - started });
        });
        res.on('error', (e) => reject(new HttpTransportError(`${where} failed: ${e.message}`, 'connection')));
    };
    // Over the verified socket (node:http: an https agent would open a connection of its own),
    // else node:https with the pinned CA.
    const r = socket
      ? httpRequest({ method: req.method, path: `${url.pathname}${url.search}`, headers, createConnection: () => socket, signal }, onResponse)
      : httpsRequest(url, { method: req.method, headers, ca, agent: false, signal }, onResponse);
    r.on('error', (e: NodeJS.ErrnoException) => {
      if (timeout.aborted) reject(new HttpTransportError(`${where} timed out after ${options.timeoutMs} ms`, 'timeout'));
      else if (req.signal?.aborted) reject(new HttpTransportError(`${where} aborted`, 'aborted'));
      else if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|altnames/i.test(`${e.code ?? ''} ${e.message}`)) reject(new HttpTransportError(`${where}: the server's certificate is not trusted by ${req.tls?.caFile}: ${e.message}`, 'tls'));
      else reject(new HttpTransportError(`${where} failed: ${e.code ?? e.message}`, 'connection'));
    });
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}
