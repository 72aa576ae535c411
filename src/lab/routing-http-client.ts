import type { HttpClient, HttpRequest, HttpResponse } from '../ports/http-client.js';

const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * The HTTP client of a --simulate run: requests to the lab's own services pass through; any
 * other host (a load balancer VIP, a DNS name in a workflow) is answered by the lab's catch-all
 * `apps` service instead, so a rehearsal never reaches a real system.
 */
export class LabRoutingHttpClient implements HttpClient {
  constructor(
    private readonly inner: HttpClient,
    private readonly appsUrl: string | undefined,
  ) {}

  async request(request: HttpRequest): Promise<HttpResponse> {
    // Lab services learn which execution, action and attempt calls them (fault injection).
    const c = request.context;
    const req = c ? { ...request, headers: { ...(request.headers ?? {}), 'x-cortex-execution': c.executionId, 'x-cortex-action': c.actionId, 'x-cortex-attempt': String(c.attempt) } } : request;
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return this.inner.request(req);
    }
    if (LOCAL.has(url.hostname) || !this.appsUrl) return this.inner.request(req);
    const target = `${this.appsUrl}${url.pathname}${url.search}`;
    return this.inner.request({ ...req, url: target, headers: { ...(req.headers ?? {}), 'x-lab-original-url': req.url } });
  }
}
