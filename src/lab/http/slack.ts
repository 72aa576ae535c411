/**
 * Lab Slack incoming webhook (HTTP-APIS.md §2): POST with a JSON (or form `payload=`) body that
 * has `text` (or blocks/attachments) -> 200 `ok` text/plain; errors are plain-text tokens. The
 * URL is the credential: in the lab any path is a valid hook. Every post is kept (no dedup).
 */
import { text, type ServiceDef } from './server.js';
import { updateHttpState } from './state.js';

export function slackService(lab: string): ServiceDef {
  return {
    name: 'slack',
    unavailable: () => text(503, 'service_unavailable'),
    throttled: (retryAfter) => text(429, 'rate_limited', 'text/plain; charset=utf-8', { 'retry-after': String(retryAfter) }),
    handle(req) {
      if (req.method !== 'POST') return text(405, 'invalid_method');
      let body: unknown = req.json;
      const ct = String(req.headers['content-type'] ?? '');
      if (ct.includes('application/x-www-form-urlencoded')) {
        const payload = new URLSearchParams(req.body).get('payload');
        try {
          body = payload ? JSON.parse(payload) : undefined;
        } catch {
          return text(400, 'invalid_payload');
        }
      } else if (req.jsonError || !req.body.trim()) {
        return text(400, 'invalid_payload');
      }
      if (!body || typeof body !== 'object' || Array.isArray(body)) return text(400, 'invalid_payload');
      const b = body as Record<string, unknown>;
      const hasText = typeof b.text === 'string' && b.text.trim() !== '';
      const hasBlocks = Array.isArray(b.blocks) && b.blocks.length > 0;
      const attachments = Array.isArray(b.attachments) ? b.attachments : [];
      if (attachments.length > 100) return text(400, 'too_many_attachments');
      if (!hasText && !hasBlocks && attachments.length === 0) return text(400, 'no_text');
      updateHttpState(lab, (s) => {
        s.slack.messages.push({ time: new Date().toISOString(), path: req.path, text: b.text ?? null, channel: b.channel ?? null, blocks: hasBlocks ? b.blocks : undefined, action: req.action ?? null });
      });
      return text(200, 'ok');
    },
  };
}
