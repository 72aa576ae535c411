/**
 * Errors of the lab's Proxmox API as PVE::Exception carries them (proxmox/pve-common
 * src/PVE/Exception.pm): a message, an optional HTTP code and per-parameter errors. pvesh prints
 * the stringified exception; the HTTPS API answers with the code (500 when none), the message as
 * reason phrase and `{"data":null,"message":...,"errors":{...}}`.
 */
import { IPV4RE, IPV6RE } from './formats.js';
import type { Errors } from './schema.js';

export class PveError extends Error {
  /** HTTP status (PVE::Exception code); undefined: a plain `die`, answered with 500. */
  readonly code: number | undefined;
  readonly errors: Errors | undefined;
  /** A usage line pvesh appends to a parameter error (PVE::RESTHandler::cli_handler). */
  usage: string | undefined;
  readonly exitCode: number;

  constructor(message: string, options: { code?: number; errors?: Errors; exitCode?: number } = {}) {
    super(message);
    this.code = options.code;
    this.errors = options.errors;
    this.exitCode = options.exitCode ?? 255;
  }

  /** PVE::Exception::stringify: `<code> <msg>`, then `<param>: <error>` lines, then the usage. */
  stringify(): string {
    let msg = this.code ? `${this.code} ${this.message}` : this.message;
    if (!msg.endsWith('\n')) msg += '\n';
    for (const k of Object.keys(this.errors ?? {}).sort()) msg += `${k}: ${(this.errors as Errors)[k]}\n`;
    if (this.usage) msg += this.usage.endsWith('\n') ? this.usage : `${this.usage}\n`;
    return msg;
  }

  isParamError(): boolean {
    return this.code === 400;
  }
}

/** PVE::Exception::raise_param_exc. */
export function paramError(errors: Errors): PveError {
  return new PveError('Parameter verification failed.\n', { code: 400, errors });
}

export type ParamValue = string | number | boolean | string[];

const IP = new RegExp(`^(?:${IPV4RE}|${IPV6RE})$`);

export function isIp(s: string): boolean {
  return IP.test(s);
}

export function isCidr(s: string): boolean {
  const [ip, prefix, ...rest] = s.split('/');
  if (rest.length || !ip || !isIp(ip)) return false;
  if (prefix === undefined) return true;
  const p = Number(prefix);
  return /^\d+$/.test(prefix) && p >= 0 && p <= (ip.includes(':') ? 128 : 32);
}

export const cidrFormat = (v: string) => (isCidr(v) ? undefined : `invalid format - value does not look like a valid CIDR network`);
