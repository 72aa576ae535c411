/**
 * Lab PagerDuty Events API v2 (HTTP-APIS.md §3): POST /v2/enqueue -> 202 {status, message,
 * dedup_key}; invalid events (PagerDuty's published enqueue schema and documented rules,
 * upstream/pagerduty-events-v2.json) 400 {status: "invalid event", message, errors[]}. Alerts are
 * deduplicated by routing_key + dedup_key: a trigger on an open alert updates it, a trigger
 * after resolve opens a new one, acknowledge/resolve of nothing open are dropped (still 202).
 */
import { randomBytes } from 'node:crypto';
import { json, type ServiceDef } from './server.js';
import { updateHttpState, type Json } from './state.js';
import { pagerdutyEventProblems } from './upstream-schemas.js';


const invalid = (errors: string[]) => json(400, { status: 'invalid event', message: 'Event object is invalid', errors });

/**
 * PagerDuty's answer to an event: the problems of its published schema and documented rules
 * (pagerdutyEventProblems), then the integration key, which must be this lab's.
 */
export function validateEvent(e: unknown, routingKey: string): string[] {
  const errors = pagerdutyEventProblems(e);
  const key = (e as Json | null)?.routing_key;
  if (errors.length === 0 && key !== routingKey) errors.push('Invalid routing key');
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
