/**
 * Lab Slack (HTTP-APIS.md §2).
 * - Incoming webhook: POST to any path but /api/ with a JSON (or form `payload=`) body that has
 *   `text` (or blocks/attachments) -> 200 `ok` text/plain; errors are plain-text tokens. The URL
 *   is the credential (any path is a valid hook). As Slack's app webhooks do, it posts to the
 *   webhook's own channel and ignores a `channel` (and username/icon) in the body; the record
 *   keeps both, so a test sees where the message really went.
 * - Web API chat.postMessage (POST /api/chat.postMessage, `Authorization: Bearer <bot token>`):
 *   HTTP 200 always, {ok: true, channel, ts, message} or {ok: false, error} (not_authed,
 *   invalid_auth, channel_not_found, no_text, invalid_json).
 * Every post is kept (no dedup).
 */
import { createHash } from 'node:crypto';
import { bearer, json, text, type LabReply, type LabRequest, type ServiceDef } from './server.js';
import { updateHttpState } from './state.js';

/** The channel every lab incoming webhook is bound to. */
export const WEBHOOK_CHANNEL = '#cortex-lab';

/** A bot token the lab accepts: any lab secret value (the lab serves every secret name). */
const LAB_TOKEN = /^lab-secret-[a-z0-9_.-]+-0123456789$/i;

function messageFields(b: Record<string, unknown>): { hasText: boolean; hasBlocks: boolean; attachments: unknown[] } {
  return {
    hasText: typeof b.text === 'string' && b.text.trim() !== '',
    hasBlocks: Array.isArray(b.blocks) && b.blocks.length > 0,
    attachments: Array.isArray(b.attachments) ? b.attachments : [],
  };
}

function webhook(lab: string, req: LabRequest): LabReply {
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
  const { hasText, hasBlocks, attachments } = messageFields(b);
  if (attachments.length > 100) return text(400, 'too_many_attachments');
  if (!hasText && !hasBlocks && attachments.length === 0) return text(400, 'no_text');
  updateHttpState(lab, (s) => {
    s.slack.messages.push({
      time: new Date().toISOString(),
      via: 'webhook',
      path: req.path,
      text: b.text ?? null,
      channel: WEBHOOK_CHANNEL,
      requested_channel: b.channel ?? null,
      blocks: hasBlocks ? b.blocks : undefined,
      action: req.action ?? null,
    });
  });
  return text(200, 'ok');
}

function channelId(name: string): string {
  return `C${createHash('sha256').update(name).digest('hex').slice(0, 10).toUpperCase()}`;
}

function postMessage(lab: string, req: LabRequest): LabReply {
  const token = bearer(req);
  if (!token) return json(200, { ok: false, error: 'not_authed' });
  if (!LAB_TOKEN.test(token)) return json(200, { ok: false, error: 'invalid_auth' });
  if (req.jsonError || !req.json || typeof req.json !== 'object' || Array.isArray(req.json)) return json(200, { ok: false, error: 'invalid_json' });
  const b = req.json as Record<string, unknown>;
  const channel = typeof b.channel === 'string' ? b.channel.trim() : '';
  if (!channel || !/^(#[a-z0-9][a-z0-9_-]{0,79}|[CGD][A-Z0-9]{6,})$/.test(channel)) return json(200, { ok: false, error: 'channel_not_found' });
  const { hasText, hasBlocks, attachments } = messageFields(b);
  if (!hasText && !hasBlocks && attachments.length === 0) return json(200, { ok: false, error: 'no_text' });
  const ts = `${(Date.now() / 1000).toFixed(6)}`;
  updateHttpState(lab, (s) => {
    s.slack.messages.push({ time: new Date().toISOString(), via: 'chat.postMessage', text: b.text ?? null, channel, blocks: hasBlocks ? b.blocks : undefined, action: req.action ?? null, ts });
  });
  return json(200, { ok: true, channel: channel.startsWith('#') ? channelId(channel) : channel, ts, message: { type: 'message', text: b.text ?? '', ts } });
}

export function slackService(lab: string): ServiceDef {
  return {
    name: 'slack',
    unavailable: () => text(503, 'service_unavailable'),
    throttled: (retryAfter) => text(429, 'rate_limited', 'text/plain; charset=utf-8', { 'retry-after': String(retryAfter) }),
    handle(req) {
      if (req.method !== 'POST') return text(405, 'invalid_method');
      if (req.path === '/api/chat.postMessage') return postMessage(lab, req);
      if (req.path.startsWith('/api/')) return json(200, { ok: false, error: 'unknown_method' });
      return webhook(lab, req);
    },
  };
}
