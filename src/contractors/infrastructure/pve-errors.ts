/**
 * What Proxmox's refusals mean: its own texts (the same from pvesh's stderr and from the HTTPS
 * API's message and errors), classified once for every transport.
 */
import { ActionFailedError } from '../../errors.js';

export type PveErrorKind = 'not_found' | 'exists' | 'param' | 'lock' | 'state' | 'unreachable' | 'unavailable' | 'auth' | 'other';

/** What a Proxmox error text means, and whether trying again can help. */
export function classifyPveMessage(message: string): { kind: PveErrorKind; retryable: boolean } {
  const m = message.toLowerCase();
  if (/^40[13] /.test(m) || /authentication failed|no ticket|permission check failed/.test(m)) return { kind: 'auth', retryable: false };
  if (/can't lock file|lock request timeout|cfs-lock|got timeout|is locked|trying to acquire lock/.test(m)) return { kind: 'lock', retryable: true };
  if (/ipcc_send_rec|connection refused|no route to host|timed out|cluster not ready|no quorum|^59[56] |can't connect|hostname lookup/.test(m)) {
    return { kind: 'unreachable', retryable: true };
  }
  if (/does not exist|no such |not found/.test(m)) return { kind: 'not_found', retryable: false };
  if (/already exists|already defined|already used|already in use/.test(m)) return { kind: 'exists', retryable: false };
  if (/^400 (parameter verification failed|unable to parse)/.test(m)) return { kind: 'param', retryable: false };
  if (/is running|not running|already running|is a template|it's a template/.test(m)) return { kind: 'state', retryable: false };
  if (/not available|not enough space|no space left|not active|is disabled/.test(m)) return { kind: 'unavailable', retryable: false };
  return { kind: 'other', retryable: true };
}

/** A failed Proxmox call or task; `pveMessage` is Proxmox's own text, `kind` its meaning. */
export class PveshError extends ActionFailedError {
  readonly pveMessage: string;
  readonly kind: PveErrorKind;
  readonly upid?: string;

  constructor(
    message: string,
    pveMessage: string,
    details: { errorCode: string; retryable?: boolean; exitStatus?: number | null; stderrTail?: string; upid?: string; hint?: string },
  ) {
    const c = classifyPveMessage(pveMessage);
    super(message, { ...details, retryable: details.retryable ?? c.retryable });
    this.pveMessage = pveMessage;
    this.kind = c.kind;
    if (details.upid !== undefined) this.upid = details.upid;
  }
}
Object.defineProperty(PveshError.prototype, 'name', { value: 'PveshError', enumerable: false });

export function isPveshError(e: unknown, kind?: PveErrorKind): e is PveshError {
  return e instanceof PveshError && (kind === undefined || e.kind === kind);
}
