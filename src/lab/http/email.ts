/**
 * Lab email relay (cortex's relay contract, see src/contractors/n8n/notify-channels.ts):
 * POST /api/v1/send {to?, cc?, subject, text, template?, data?} with the endpoint's bearer
 * token -> 202 {id, status: "queued", recipients}; errors {error}. Every message is kept.
 */
import { randomUUID } from 'node:crypto';
import { bearer, json, type ServiceDef } from './server.js';
import { updateHttpState, type Json } from './state.js';

const DEFAULT_RECIPIENTS = ['ops@cortex.local'];
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export function emailService(lab: string, token: string): ServiceDef {
  return {
    name: 'email',
    unavailable: () => json(503, { error: 'service unavailable' }),
    throttled: (retryAfter) => json(429, { error: 'too many messages' }, { 'retry-after': String(retryAfter) }),
    authorize: (req) => (bearer(req) === token ? undefined : json(401, { error: 'unauthorized' })),
    handle(req) {
      if (req.path !== '/api/v1/send') return json(404, { error: 'not found' });
      if (req.method !== 'POST') return json(405, { error: 'method not allowed' });
      if (req.jsonError || !req.json || typeof req.json !== 'object' || Array.isArray(req.json)) return json(400, { error: 'body must be a JSON object' });
      const m = req.json as Json;
      if (typeof m.subject !== 'string' || !m.subject) return json(400, { error: 'subject is required' });
      if (typeof m.text !== 'string' && typeof m.template !== 'string') return json(400, { error: 'text or template is required' });
      for (const f of ['to', 'cc']) {
        const v = m[f];
        if (v === undefined) continue;
        if (!Array.isArray(v) || v.some((a) => typeof a !== 'string' || !EMAIL.test(a))) return json(400, { error: `${f} must be a list of email addresses` });
      }
      const recipients = [...((m.to as string[] | undefined)?.length ? (m.to as string[]) : DEFAULT_RECIPIENTS), ...((m.cc as string[] | undefined) ?? [])];
      const id = randomUUID();
      updateHttpState(lab, (s) => {
        s.email.messages.push({ id, time: new Date().toISOString(), recipients, subject: m.subject, text: m.text ?? null, template: m.template ?? null, action: req.action ?? null });
      });
      return json(202, { id, status: 'queued', recipients });
    },
  };
}
