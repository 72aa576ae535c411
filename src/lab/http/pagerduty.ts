/**
 * Lab PagerDuty Events API v2 (HTTP-APIS.md §3): POST /v2/enqueue -> 202 {status, message,
 * dedup_key}; invalid events 400 {status: "invalid event", message, errors[]}. Alerts are
 * deduplicated by routing_key + dedup_key: a trigger on an open alert updates it, a trigger
 * after resolve opens a new one, acknowledge/resolve of nothing open are dropped (still 202).
 */
import { randomBytes } from 'node:crypto';
import { json, type ServiceDef } from './server.js';
import { updateHttpState, type Json } from './state.js';

const ACTIONS = ['trigger', 'acknowledge', 'resolve'];
const SEVERITIES = ['critical', 'error', 'warning', 'info'];

const invalid = (errors: string[]) => json(400, { status: 'invalid event', message: 'Event object is invalid', errors });

export function validateEvent(e: unknown, routingKey: string): string[] {
  if (!e || typeof e !== 'object' || Array.isArray(e)) return ['Event object is not a JSON object'];
  const ev = e as Json;
  const errors: string[] = [];
  if (typeof ev.routing_key !== 'string' || !ev.routing_key) errors.push("'routing_key' is missing or blank");
  else if (ev.routing_key !== routingKey) errors.push('Invalid routing key');
  if (typeof ev.event_action !== 'string' || !ACTIONS.includes(ev.event_action)) errors.push("'event_action' is missing or invalid (trigger, acknowledge or resolve)");
  if (ev.dedup_key !== undefined && (typeof ev.dedup_key !== 'string' || ev.dedup_key.length > 255)) errors.push("'dedup_key' must be a string of at most 255 characters");
  if (ev.event_action === 'acknowledge' || ev.event_action === 'resolve') {
    if (typeof ev.dedup_key !== 'string' || !ev.dedup_key) errors.push("'dedup_key' is missing or blank");
  }
  if (ev.event_action === 'trigger') {
    const p = ev.payload as Json | undefined;
    if (!p || typeof p !== 'object' || Array.isArray(p)) errors.push("'payload' is missing or not an object");
    else {
      if (typeof p.summary !== 'string' || !p.summary) errors.push("'payload.summary' is missing or blank");
      else if (p.summary.length > 1024) errors.push("'payload.summary' is longer than 1024 characters");
      if (typeof p.source !== 'string' || !p.source) errors.push("'payload.source' is missing or blank");
      if (typeof p.severity !== 'string' || !SEVERITIES.includes(p.severity)) errors.push("'payload.severity' is missing or invalid (critical, error, warning or info)");
      if (p.custom_details !== undefined && (typeof p.custom_details !== 'object' || p.custom_details === null)) errors.push("'payload.custom_details' must be an object");
    }
  }
  return errors;
}

export function pagerdutyService(lab: string, routingKey: string): ServiceDef {
  return {
    name: 'pagerduty',
    unavailable: () => json(503, { status: 'unavailable', message: 'Service Unavailable' }),
    throttled: () => json(429, { status: 'throttle event', message: 'Requests for this service are arriving too quickly. Please retry later.' }),
    handle(req) {
      if (req.path !== '/v2/enqueue') return json(404, { status: 'not found', message: 'Not Found' });
      if (req.method !== 'POST') return json(405, { status: 'method not allowed', message: 'Method Not Allowed' });
      if (req.jsonError) return invalid(['Event object is not valid JSON']);
      const errors = validateEvent(req.json, routingKey);
      if (errors.length) return invalid(errors);
      const ev = req.json as Json;
      const action = ev.event_action as string;
      const dedup = (ev.dedup_key as string | undefined) || randomBytes(16).toString('hex');
      updateHttpState(lab, (s) => {
        s.pagerduty.events += 1;
        const open = s.pagerduty.alerts.find((a) => a.dedup_key === dedup && a.routing === 'lab' && a.status !== 'resolved');
        const now = new Date().toISOString();
        if (action === 'trigger') {
          if (open) {
            open.count = Number(open.count ?? 1) + 1;
            open.updated_at = now;
            open.summary = (ev.payload as Json).summary;
          } else {
            s.pagerduty.alerts.push({ dedup_key: dedup, routing: 'lab', status: 'triggered', count: 1, summary: (ev.payload as Json).summary, severity: (ev.payload as Json).severity, created_at: now, updated_at: now });
          }
        } else if (open) {
          open.status = action === 'resolve' ? 'resolved' : 'acknowledged';
          open.updated_at = now;
        }
      });
      return json(202, { status: 'success', message: 'Event processed', dedup_key: dedup });
    },
  };
}
