/**
 * Named formats of the Proxmox API schema (`format: 'pve-node'`, ...), as PVE::JSONSchema's
 * register_format validators check them: each returns Proxmox's own error text (the `die`
 * message, newline included) or undefined. Sources: proxmox/pve-common src/PVE/JSONSchema.pm and
 * ParseUtils.pm @ f665029eac78022e81810ab2e44eace57ade13fb, pve-firewall src/PVE/Firewall.pm
 * @ 6f1311f349daee920c7eedcc6e53d7fc5e2cfdbf (IPorCIDR*), pve-network @ a8b6166768822e623c862b0bfd588ee022665241
 * (pve-sdn-*-id). Formats not listed here are not checked by the lab (the handlers check what
 * cortex can meet); `-list` and `-opt` suffixes work as in check_format.
 */

const IPV4OCTET = '(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])';
export const IPV4RE = `(?:(?:${IPV4OCTET}\\.){3}${IPV4OCTET})`;
const H16 = '(?:[0-9a-fA-F]{1,4})';
const LS32 = `(?:(?:${IPV4RE}|${H16}:${H16}))`;
export const IPV6RE =
  '(?:' +
  `(?:(?:(?:${H16}:){6})${LS32})|` +
  `(?:(?:::(?:${H16}:){5})${LS32})|` +
  `(?:(?:(?:${H16})?::(?:${H16}:){4})${LS32})|` +
  `(?:(?:(?:(?:${H16}:){0,1}${H16})?::(?:${H16}:){3})${LS32})|` +
  `(?:(?:(?:(?:${H16}:){0,2}${H16})?::(?:${H16}:){2})${LS32})|` +
  `(?:(?:(?:(?:${H16}:){0,3}${H16})?::(?:${H16}:){1})${LS32})|` +
  `(?:(?:(?:(?:${H16}:){0,4}${H16})?::)${LS32})|` +
  `(?:(?:(?:(?:${H16}:){0,5}${H16})?::)${H16})|` +
  `(?:(?:(?:(?:${H16}:){0,6}${H16})?::)))`;

const full = (re: string, flags = '') => new RegExp(`^(?:${re})$`, flags);
const V4 = full(IPV4RE);
const V6 = full(IPV6RE);
const CIDR4 = new RegExp(`^(?:${IPV4RE})/(\\d+)$`);
const CIDR6 = new RegExp(`^(?:${IPV6RE})/(\\d+)$`);

/** PVE::ParseUtils::split_list: NUL-separated, else on commas, semicolons and whitespace. */
export function splitList(text: string): string[] {
  if (text.includes('\0')) return text.split('\0');
  return text.replace(/[,;]/g, ' ').replace(/^\s+/, '').split(/\s+/).filter((x) => x !== '');
}

const isCidr4 = (v: string) => {
  const m = CIDR4.exec(v);
  return Boolean(m && Number(m[1]) > 7 && Number(m[1]) <= 32);
};
const isCidr6 = (v: string) => {
  const m = CIDR6.exec(v);
  return Boolean(m && Number(m[1]) > 7 && Number(m[1]) <= 128);
};
const isIp = (v: string) => V4.test(v) || V6.test(v);
const DNS_NAME = /^(([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)\.)*([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/;

function parseId(id: string, type: string): string | undefined {
  if (id.length < 2) return `${type} ID '${id}' cannot be shorter than 2 characters\n`;
  if (!/^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(id)) return `${type} ID '${id}' contains illegal characters\n`;
  return undefined;
}

function sdnId(kind: string) {
  return (id: string) => {
    if (!/^[a-z][a-z0-9]*[a-z0-9]$/i.test(id)) return `${kind} ID '${id}' contains illegal characters\n`;
    if (id.length > 8) return `${kind} ID '${id}' can't be more length than 8 characters\n`;
    return undefined;
  };
}

function startupOrder(v: string): boolean {
  if (!v) return false;
  return v.split(',').every((p) => /^\s*$/.test(p) || /^(order=)?\d+$/.test(p) || /^up=\d+$/.test(p) || /^down=\d+$/.test(p));
}

const check = (ok: (v: string) => boolean, message: (v: string) => string) => (v: string) => (ok(v) ? undefined : message(v));

/** Validators by format name: value -> error text. */
export const FORMATS: Record<string, (value: string) => string | undefined> = {
  string: () => undefined,
  urlencoded: check((v) => /^[-%a-zA-Z0-9_.!~*'()]*$/.test(v), (v) => `invalid urlencoded string: ${v}\n`),
  'pve-configid': check((v) => /^[a-z][a-z0-9_-]+$/i.test(v), (v) => `invalid configuration ID '${v}'\n`),
  'pve-storage-id': (v) => parseId(v, 'storage'),
  'pve-bridge-id': check((v) => /^[-_.\w\d]+$/.test(v), (v) => `invalid bridge ID '${v}'\n`),
  'pve-vmid': check((v) => /^[1-9][0-9]{2,8}$/.test(v), () => 'value does not look like a valid VM ID\n'),
  'pve-node': check((v) => /^([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)$/.test(v), () => 'value does not look like a valid node name\n'),
  'mac-addr': check((v) => /^[a-f0-9][02468ace](?::[a-f0-9]{2}){5}$/i.test(v), () => 'value does not look like a valid unicast MAC address\n'),
  ipv4: check((v) => V4.test(v), () => 'value does not look like a valid IPv4 address\n'),
  ipv6: check((v) => V6.test(v), () => 'value does not look like a valid IPv6 address\n'),
  ip: check(isIp, () => 'value does not look like a valid IP address\n'),
  CIDRv4: check(isCidr4, () => 'value does not look like a valid IPv4 CIDR network\n'),
  CIDRv6: check(isCidr6, () => 'value does not look like a valid IPv6 CIDR network\n'),
  CIDR: check((v) => isCidr4(v) || isCidr6(v), () => 'value does not look like a valid CIDR network\n'),
  'pve-ipv4-config': check((v) => /^(?:dhcp|manual)$/.test(v) || isCidr4(v), () => 'value does not look like a valid ipv4 network configuration\n'),
  'pve-ipv6-config': check((v) => /^(?:auto|dhcp|manual)$/.test(v) || isCidr6(v), () => 'value does not look like a valid ipv6 network configuration\n'),
  'dns-name': check((v) => DNS_NAME.test(v), () => 'value does not look like a valid DNS name\n'),
  address: check((v) => isIp(v) || DNS_NAME.test(v), (v) => `value does not look like a valid address: ${v}\n`),
  'pve-iface': check((v) => /^[a-z][a-z0-9_]{1,20}([:.]\d+)?$/i.test(v), (v) => `invalid network interface name '${v}'\n`),
  'disk-size': check((v) => /^(\d+(\.\d+)?)([KMGT](?:iB)?)?$/.test(v), (v) => `value does not look like a valid disk size: ${v}\n`),
  'pve-startup-order': check(startupOrder, () => 'unable to parse startup options\n'),
  'pve-tag': check((v) => /^[a-z0-9_][a-z0-9_\-+.]*$/i.test(v), () => 'invalid characters in tag\n'),
  'pve-task-status-type': check((v) => /^(ok|error|warning|unknown)$/i.test(v), (v) => `invalid status '${v}'\n`),
  'pve-replication-job-id': () => undefined,
  IPorCIDR: check((v) => new RegExp(`^(?:${IPV6RE}|${IPV4RE})(?:/\\d+)?$`).test(v), () => 'value does not look like a valid IP address or CIDR network\n'),
  IPorCIDRorAlias: check((v) => /^(dc\/|guest\/)?(?:[A-Za-z][A-Za-z0-9\-_]+)$/.test(v) || new RegExp(`^(?:${IPV6RE}|${IPV4RE})(?:/\\d+)?$`).test(v), () => 'value does not look like a valid IP address or CIDR network\n'),
  'pve-sdn-zone-id': sdnId('zone'),
  'pve-sdn-vnet-id': sdnId('vnet'),
  'pve-sdn-subnet-id': (id) => {
    const cidr = id.includes('/') ? id : (([, ip, mask]) => `${ip}/${mask}`)(id.split('-'));
    return isCidr4(cidr) || isCidr6(cidr) ? undefined : 'value does not look like a valid CIDR network\n';
  },
};

/**
 * PVE::JSONSchema::check_format for a named format: the error text, or undefined when the value
 * is valid or the lab does not know the format. `name-list` checks every list element.
 */
export function checkNamedFormat(format: string, value: string): string | undefined {
  const m = /^(.*?)(?:-(list|opt))?$/.exec(format) as RegExpExecArray;
  const name = m[1] as string;
  const kind = m[2] ?? 'none';
  const fn = FORMATS[name];
  if (!fn) return undefined;
  if (kind === 'list') {
    for (const v of splitList(value)) {
      const e = fn(v);
      if (e) return e;
    }
    return undefined;
  }
  if (kind === 'opt') return value ? fn(value) : undefined;
  return fn(value);
}
