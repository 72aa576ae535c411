/**
 * The lab's stand-in for everything else on the network: load-balancer endpoints, application
 * health URLs, DNS names a workflow probes directly. In --simulate, cortex routes every HTTP
 * request whose host is not a lab service here (a rehearsal never reaches a real host). It
 * answers like a healthy application: /health, /healthz, /ready -> 200; /version -> the images
 * of the deployments in the lab's Kubernetes; anything else -> 200 JSON echo.
 */
import { readState } from '../lab-dir.js';
import type { LabModule, RunningService } from '../module.js';
import { json, startService, stopServer, text, type LabRequest } from '../http/server.js';

interface KubeLike {
  objects?: Record<
    string,
    Record<
      string,
      {
        metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
        spec?: { template?: { spec?: { containers?: Array<{ image?: string; env?: Array<{ name?: string; value?: string }> }> } } };
      }
    >
  >;
}

/** What a real app's /version would say: per deployment its image, version label and APP_VERSION. */
function deployedVersions(lab: string): Array<Record<string, string>> {
  const state = readState<KubeLike>(lab, 'kube', () => ({}));
  const out: Array<Record<string, string>> = [];
  for (const d of Object.values(state.objects?.['deployments.apps'] ?? {})) {
    for (const c of d.spec?.template?.spec?.containers ?? []) {
      const entry: Record<string, string> = { deployment: d.metadata?.name ?? '?' };
      if (d.metadata?.namespace) entry.namespace = d.metadata.namespace;
      if (c.image) entry.image = c.image;
      const label = d.metadata?.labels?.version;
      if (label) entry.version = label;
      const env = c.env?.find((e) => e.name === 'APP_VERSION')?.value;
      if (env) entry.app_version = env;
      out.push(entry);
    }
  }
  return out;
}

function handle(lab: string, req: LabRequest) {
  const original = String(req.headers['x-lab-original-url'] ?? '');
  if (/^\/(health|healthz|ready|livez|readyz|-\/healthy|-\/ready)\/?$/.test(req.path)) return text(200, 'ok\n');
  if (req.path === '/version') return json(200, { versions: deployedVersions(lab) });
  return json(200, { ok: true, method: req.method, path: req.path, original_url: original || null });
}

export const appsModule: LabModule = {
  name: 'apps',
  seed() {
    // Stateless: it reflects the other modules' state.
  },
  async start(lab): Promise<RunningService> {
    const s = await startService(lab, {
      name: 'apps',
      // With the newline Go's http.Error ends its text with: cortex's messages stay one line whatever a service sends.
      unavailable: () => text(503, 'Service Unavailable\n'),
      isOpen: () => true,
      handle: (req) => handle(lab, req),
    });
    return { urls: { apps: s.url }, stop: () => stopServer(s.server) };
  },
};
