import { HttpTransportError, type HttpClient, type HttpRequest, type HttpResponse } from '../ports/http-client.js';

export interface FetchHttpClientOptions {
  /** Applied when a request has no timeoutMs (default 30 s). */
  defaultTimeoutMs?: number;
  /** Applied when a request has no maxResponseBytes (default 4 MiB). */
  maxResponseBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * HttpClient on the global fetch. Redirects are not followed (a 3xx is returned as is), so a
 * POST is never silently replayed elsewhere. Throws HttpTransportError only for transport
 * failures: connection, timeout, aborted, invalid_url, too_large (body over maxResponseBytes).
 */
export class FetchHttpClient implements HttpClient {
  private readonly defaultTimeoutMs: number;
  private readonly maxResponseBytes: number;

  constructor(options: FetchHttpClientOptions = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new HttpTransportError(`invalid URL: ${req.url}`, 'invalid_url');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new HttpTransportError(`unsupported URL scheme ${url.protocol} in ${req.url}`, 'invalid_url');
    }
    const where = `${req.method.toUpperCase()} ${url.origin}${url.pathname}`;
    if (req.body !== undefined && /^(GET|HEAD)$/i.test(req.method)) {
      // A programming error, not a transport failure: fetch cannot send it.
      throw new TypeError(`${where}: a ${req.method.toUpperCase()} request cannot have a body`);
    }
    if (req.signal?.aborted) throw new HttpTransportError(`${where} aborted`, 'aborted');

    const timeoutMs = req.timeoutMs ?? this.defaultTimeoutMs;
    const limit = req.maxResponseBytes ?? this.maxResponseBytes;
    if (req.tls?.caFile || req.tls?.fingerprint) {
      // Loaded here, for a request that pins its server's certificate: node:https, node:http and
      // node:tls cost ~10 ms of CPU at every start of a command that sends none (BENCHMARKS.md).
      const { pinnedHttpsRequest } = await import('./pinned-https.js');
      return pinnedHttpsRequest(req, { timeoutMs, maxResponseBytes: limit });
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
    const started = performance.now();

    const transportError = (error: unknown): HttpTransportError => {
      if (error instanceof HttpTransportError) return error;
      if (timeout.aborted) return new HttpTransportError(`${where} timed out after ${timeoutMs} ms`, 'timeout');
      if (req.signal?.aborted) return new HttpTransportError(`${where} aborted`, 'aborted');
      const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
      const detail = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|HOSTNAME|ALTNAME/i.test(detail)) return new HttpTransportError(`${where}: the server's certificate is not trusted (${detail})`, 'tls');
      return new HttpTransportError(`${where} failed: ${detail}`, 'connection');
    };

    try {
      const response = await fetch(url, {
        method: req.method,
        headers: req.headers,
        body: req.body,
        redirect: 'manual',
        signal,
      });
      const headers: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        headers[name.toLowerCase()] = value;
      });
      const body = await readBounded(response, limit, where);
      return { status: response.status, ...(response.statusText ? { statusText: response.statusText } : {}), headers, body, durationMs: performance.now() - started };
    } catch (error) {
      throw transportError(error);
    }
  }
}

/** Reads the body as UTF-8, failing with 'too_large' as soon as it passes `limit` bytes. */
async function readBounded(response: Response, limit: number, where: string): Promise<string> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new HttpTransportError(`${where}: response body of ${declared} bytes exceeds ${limit} bytes`, 'too_large');
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new HttpTransportError(`${where}: response body exceeds ${limit} bytes`, 'too_large');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
