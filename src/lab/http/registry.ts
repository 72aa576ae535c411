/**
 * Lab container registry (Docker Registry HTTP API v2, as Harbor serves it): images pushed by
 * the lab's n8n push_docker_image appear here. Bearer auth; errors {errors:[{code,message,detail}]}.
 */
import { createHash } from 'node:crypto';
import { bearer, json, type LabReply, type ServiceDef } from './server.js';
import { readHttpState } from './state.js';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const regError = (status: number, code: string, message: string, detail: unknown = null, headers: Record<string, string> = {}): LabReply =>
  json(status, { errors: [{ code, message, detail }] }, { 'docker-distribution-api-version': 'registry/2.0', ...headers });

export function registryService(lab: string, token: string, selfUrl: () => string): ServiceDef {
  return {
    name: 'registry',
    unavailable: () => regError(503, 'UNAVAILABLE', 'service unavailable'),
    throttled: (retryAfter) => regError(429, 'TOOMANYREQUESTS', 'too many requests', null, { 'retry-after': String(retryAfter) }),
    authorize: (req) =>
      bearer(req) === token
        ? undefined
        : regError(401, 'UNAUTHORIZED', 'authentication required', null, { 'www-authenticate': `Bearer realm="${selfUrl()}/service/token",service="harbor-registry"` }),
    handle(req) {
      const get = req.method === 'GET' || req.method === 'HEAD';
      if (req.path === '/v2/' || req.path === '/v2') return json(200, {}, { 'docker-distribution-api-version': 'registry/2.0' });
      const repos = readHttpState(lab).registry.repositories;
      if (req.path === '/v2/_catalog' && get) return json(200, { repositories: Object.keys(repos).sort() });
      const tags = /^\/v2\/(.+)\/tags\/list$/.exec(req.path);
      if (tags && get) {
        const r = repos[tags[1] as string];
        return r ? json(200, { name: tags[1], tags: Object.keys(r).sort() }) : regError(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name: tags[1] });
      }
      const man = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(req.path);
      if (man && get) {
        const name = man[1] as string;
        const ref = man[2] as string;
        const r = repos[name];
        if (!r) return regError(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name });
        const digest = ref.startsWith('sha256:') ? (Object.values(r).includes(ref) ? ref : undefined) : r[ref];
        if (!digest) return regError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { tag: ref });
        const config = `sha256:${createHash('sha256').update(`config:${digest}`).digest('hex')}`;
        return json(200, { schemaVersion: 2, mediaType: MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 1470 }, layers: [] }, { 'content-type': MANIFEST, 'docker-content-digest': digest });
      }
      return regError(404, 'NOT_FOUND', 'not found');
    },
  };
}
