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
  objects?: Record<string, Record<string, { metadata?: { name?: string; namespace?: string }; spec?: { template?: { spec?: { containers?: Array<{ image?: string }> } } } }>>;
}

function deployedImages(lab: string): Array<{ deployment: string; namespace?: string; image: string }> {
  const state = readState<KubeLike>(lab, 'kube', () => ({}));
  const out: Array<{ deployment: string; namespace?: string; image: string }> = [];
  for (const d of Object.values(state.objects?.['deployments.apps'] ?? {})) {
    for (const c of d.spec?.template?.spec?.containers ?? []) {
      if (c.image) out.push({ deployment: d.metadata?.name ?? '?', ...(d.metadata?.namespace ? { namespace: d.metadata.namespace } : {}), image: c.image });
    }
  }
  return out;
}

function handle(lab: string, req: LabRequest) {
  const original = String(req.headers['x-lab-original-url'] ?? '');
  if (/^\/(health|healthz|ready|livez|readyz|-\/healthy|-\/ready)\/?$/.test(req.path)) return text(200, 'ok\n');
  if (req.path === '/version') return json(200, { versions: deployedImages(lab) });
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
      unavailable: () => text(503, 'Service Unavailable\n'),
      isOpen: () => true,
      handle: (req) => handle(lab, req),
    });
    return { urls: { apps: s.url }, stop: () => stopServer(s.server) };
  },
};
