import { describe, expect, it } from 'vitest';
import { oneLine } from '../../../src/errors.js';
import { GENERIC_SPECS } from '../../../src/contractors/generic/specs.js';
import { httpRequest } from '../../../src/contractors/generic/http-request.js';
import { errorMessageOf, parseJsonBody } from '../../../src/contractors/http-util.js';
import { badOutput } from '../../../src/contractors/talos/tool-errors.js';
import { FakeHttpClient, fakeDeps } from '../../fakes/fakes.js';
import { makeRuntime } from './runtime-helper.js';

// Messages are one line (the summary, the final line, `status`): a response body or a tool's
// output put in one keeps no newline, trailing (Go's http.Error, the lab's apps 503) or inside
// (an HTML error page, a multi-line JSON message).

const HTML_503 = '<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

async function failureOf(body: string, contentType = 'text/plain; charset=utf-8'): Promise<string> {
  const spec = GENERIC_SPECS.find((s) => s.name === 'http_request');
  const deps = fakeDeps({ http: new FakeHttpClient(() => ({ status: 503, body, headers: { 'content-type': contentType } })) });
  const { rt, dispose } = makeRuntime({ method: 'POST', url: 'http://web.example/deploy' }, { ...(spec ? { spec } : {}), deps });
  try {
    await httpRequest.run(rt);
    throw new Error('http_request did not fail');
  } catch (e) {
    return (e as Error).message;
  } finally {
    dispose();
  }
}

describe('one-line messages from bodies and tool output', () => {
  it('oneLine drops blank lines and the trailing newline, joins lines with " | ", then cuts', () => {
    expect(oneLine('Service Unavailable\n')).toBe('Service Unavailable');
    expect(oneLine('  a \r\n\r\n b\rc\n')).toBe('a | b | c');
    expect(oneLine('\n\n')).toBe('');
    expect(oneLine('abcdef\n', 3)).toBe('abc');
  });

  it('http_request: a 503 with a newline-terminated body is one line', async () => {
    expect(await failureOf('Service Unavailable\n')).toBe('POST http://web.example/deploy answered 503: Service Unavailable');
    const html = await failureOf(HTML_503, 'text/html');
    expect(html).not.toMatch(/[\r\n]/);
    expect(html).toMatch(/^POST http:\/\/web\.example\/deploy answered 503: <html> \| <head><title>503 Service Temporarily Unavailable/);
  });

  it('a service\'s error message (JSON or plain text), a body that is not JSON, a tool\'s unexpected output: one line', () => {
    expect(errorMessageOf('service_unavailable\n')).toBe('service_unavailable');
    expect(errorMessageOf(JSON.stringify({ message: 'first\nsecond\n' }))).toBe('first | second');
    expect(errorMessageOf(HTML_503)).not.toMatch(/[\r\n]/);
    expect(() => parseJsonBody({ status: 200, headers: {}, body: 'oops\n', durationMs: 1 }, 'n8n GET /x')).toThrow(/^n8n GET \/x: response is not JSON: oops$/);
    expect(badOutput('kubectl get nodes', 'line one\nline two\n').message).toBe('kubectl get nodes: unexpected output: line one | line two');
  });
});
