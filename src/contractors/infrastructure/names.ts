/** Names and tagged comments the infrastructure actions write into Proxmox. */
import { createHash } from 'node:crypto';

export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;

/** Proxmox snapshot names: a letter first, then letters, digits, - and _, at most 40 characters. */
export function snapshotName(raw: string): string {
  let s = raw.replace(/[^A-Za-z0-9_-]/g, '-');
  if (!/^[A-Za-z]/.test(s)) s = `s${s}`;
  return s.slice(0, 40);
}

/** Characters other than letters, digits, - and _ become - (IPSet names). */
export function sanitizeId(raw: string): string {
  return raw.replace(/[^A-Za-z0-9_-]/g, '-');
}

/** Proxmox IPSet names: `[A-Za-z][A-Za-z0-9\-_]+`, 2 to 64 characters (pve-firewall, the API schema). */
export const IPSET_NAME_MAX = 64;

/**
 * The IPSet of a load-balancer pool: `lb-<load_balancer>-<backend_pool>`; a name longer than
 * Proxmox allows keeps its first 55 characters and ends with 8 hex digits of its SHA-1, so it
 * stays stable and distinct.
 */
export function ipsetName(loadBalancer: string, backendPool: string): string {
  const full = `lb-${sanitizeId(loadBalancer)}-${sanitizeId(backendPool)}`;
  if (full.length <= IPSET_NAME_MAX) return full;
  return `${full.slice(0, IPSET_NAME_MAX - 9)}-${createHash('sha1').update(full).digest('hex').slice(0, 8)}`;
}

export const DEFAULT_WEIGHT = 100;

export interface BackendEntry {
  version: string;
  port: number;
  weight: number;
}

/** `cortex:<version>:<port>`, plus `:<weight>` when the weight is not 100. */
export function backendComment(version: string, port: number, weight = DEFAULT_WEIGHT): string {
  return `cortex:${version}:${port}${weight === DEFAULT_WEIGHT ? '' : `:${weight}`}`;
}

export function parseBackendComment(comment: string | undefined): BackendEntry | undefined {
  if (!comment) return undefined;
  const withWeight = /^cortex:(.+):(\d+):(\d+)$/.exec(comment);
  if (withWeight) return { version: withWeight[1] as string, port: Number(withWeight[2]), weight: Number(withWeight[3]) };
  const plain = /^cortex:(.+):(\d+)$/.exec(comment);
  if (plain) return { version: plain[1] as string, port: Number(plain[2]), weight: DEFAULT_WEIGHT };
  return undefined;
}

export interface HealthCheck {
  path: string;
  interval: number;
  timeout: number;
  rise: number;
  fall: number;
}

export function healthCheckComment(h: HealthCheck): string {
  return `cortex-hc:${h.path}:${h.interval}:${h.timeout}:${h.rise}:${h.fall}`;
}

export function parseHealthCheckComment(comment: string | undefined): HealthCheck | undefined {
  const m = /^cortex-hc:(\/[^:]*):(\d+):(\d+):(\d+):(\d+)$/.exec(comment ?? '');
  if (!m) return undefined;
  return { path: m[1] as string, interval: Number(m[2]), timeout: Number(m[3]), rise: Number(m[4]), fall: Number(m[5]) };
}

/** Firewall rule comments cortex owns. */
export function ruleComment(id: string): string {
  return `cortex:${id}`;
}

export function ruleIdOf(comment: string | undefined): string | undefined {
  const m = /^cortex:([A-Za-z0-9][A-Za-z0-9_.-]{0,62})$/.exec(comment ?? '');
  return m?.[1];
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** Size strings of Proxmox disks (`32G`, `512M`, `1T`) in GiB. */
export function sizeToGib(size: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size ?? '');
  if (!m) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'T':
      return n * 1024;
    case 'G':
      return n;
    case 'M':
      return n / 1024;
    case 'K':
      return n / 1024 / 1024;
    default:
      return n / GIB;
  }
}
