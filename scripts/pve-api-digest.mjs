#!/usr/bin/env node
// Writes upstream/pve-api.json: the facts the lab's Proxmox (pvesh stand-in and HTTPS API) checks
// calls against, taken from the published Proxmox VE API schema, for the API paths the lab serves.
//
//   node scripts/pve-api-digest.mjs <apidata.js> [<commit>]
//
// <apidata.js> is api-viewer/apidata.js of proxmox/pve-docs (git://git.proxmox.com/git/pve-docs.git,
// mirrored at github.com/proxmox/pve-docs). The paths are those of the lab's routes
// (`path: '...'` in src/lab/pve/routes-*.ts); test/unit/lab/pve/api-digest.test.ts fails when a
// route has no entry. Per parameter only what validation needs is kept (type, format, pattern,
// enum, minimum, maximum, minLength, maxLength, optional, default, property-string keys); the
// descriptions are dropped.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const OUT = join(ROOT, 'upstream', 'pve-api.json');
const DEFAULT_COMMIT = 'e5010dcea566a205770572cfbc5fe0af220d5077';

// apidata.js shows net0..net31 as one `net[n]` (PVE::RESTHandler api_dump_cleanup_tree) and drops
// the count. These are the counts of qemu-server at the commit nearest before the pve-docs one:
// $MAX_NETS (QemuServer.pm; ipconfig too), $MAX_*_DISKS (QemuServer/Drive.pm),
// $MAX_SERIAL_PORTS and $MAX_PARALLEL_PORTS (QemuServer.pm), $MAX_HOSTPCI_DEVICES (PCI.pm),
// $MAX_USB_DEVICES (USB.pm), $MAX_NUMA (Memory.pm), $MAX_VIRTIOFS (Virtiofs.pm).
const INDEXED = {
  source: 'proxmox/qemu-server src/PVE/QemuServer.pm, QemuServer/{Drive,PCI,USB,Memory,Virtiofs}.pm',
  commit: '1412b2b4c69718e90a31f276bf8f0450a2660f23',
  counts: { net: 32, ipconfig: 32, ide: 4, scsi: 31, virtio: 16, sata: 6, unused: 256, hostpci: 16, usb: 14, serial: 4, parallel: 3, numa: 8, virtiofs: 10 },
};

// Named property-string formats apidata.js gives only as text: their keys, from the source.
const NAMED_FORMATS = {
  source: 'proxmox/qemu-server src/PVE/QemuServer/Network.pm ($ipconfig_fmt)',
  commit: '1412b2b4c69718e90a31f276bf8f0450a2660f23',
  formats: {
    'pve-qm-ipconfig': {
      ip: { type: 'string', format: 'pve-ipv4-config', optional: 1, default: 'dhcp' },
      gw: { type: 'string', format: 'ipv4', optional: 1, requires: 'ip' },
      ip6: { type: 'string', format: 'pve-ipv6-config', optional: 1, default: 'dhcp' },
      gw6: { type: 'string', format: 'ipv6', optional: 1, requires: 'ip6' },
    },
  },
};

const KEEP = ['type', 'pattern', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'optional', 'default', 'default_key', 'alias', 'keyAlias', 'requires'];

function trim(schema) {
  const out = {};
  for (const k of KEEP) if (schema[k] !== undefined) out[k] = schema[k];
  if (typeof schema.format === 'string') out.format = schema.format;
  else if (schema.format && typeof schema.format === 'object') out.format = Object.fromEntries(Object.entries(schema.format).sort().map(([k, v]) => [k, trim(v)]));
  if (schema.items) out.items = trim(schema.items);
  return out;
}

/** JSON with one line per parameter (depth 5: endpoints > path > method > params > name). */
function layout(value, depth) {
  const flat = depth >= 5 || !value || typeof value !== 'object' || Array.isArray(value);
  if (flat) return JSON.stringify(value);
  const pad = ' '.repeat(depth + 1);
  const entries = Object.entries(value).map(([k, v]) => `${pad}${JSON.stringify(k)}: ${layout(v, k === 'endpoints' || depth >= 1 ? depth + 1 : 5)}`);
  return entries.length ? `{\n${entries.join(',\n')}\n${' '.repeat(depth)}}` : '{}';
}

function labPaths() {
  const dir = join(ROOT, 'src', 'lab', 'pve');
  const paths = new Set();
  for (const f of readdirSync(dir).filter((n) => /^routes-.*\.ts$/.test(n))) {
    for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/\bpath: '([^']+)'/g)) paths.add(m[1]);
  }
  return [...paths].sort();
}

function main() {
  const [file, commit = DEFAULT_COMMIT] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node scripts/pve-api-digest.mjs <pve-docs/api-viewer/apidata.js> [<commit>]');
    process.exit(2);
  }
  const text = readFileSync(file, 'utf8');
  const tree = JSON.parse(text.slice(text.indexOf('['), text.lastIndexOf(']') + 1));
  const byPath = new Map();
  (function walk(nodes) {
    for (const n of nodes) {
      byPath.set(n.path, n);
      if (n.children) walk(n.children);
    }
  })(tree);

  const endpoints = {};
  const missing = [];
  const indexedSeen = new Set();
  for (const path of labPaths()) {
    const node = byPath.get(path);
    if (!node) {
      missing.push(path);
      continue;
    }
    const methods = {};
    for (const [method, info] of Object.entries(node.info ?? {}).sort()) {
      const props = info.parameters?.properties ?? {};
      const params = {};
      for (const [name, schema] of Object.entries(props).sort()) {
        params[name] = trim(schema);
        const m = /^([a-z]+)\[n\]$/.exec(name);
        if (m) indexedSeen.add(m[1]);
      }
      methods[method] = { params, ...(info.parameters?.additionalProperties ? { additional_properties: 1 } : {}), ...(info.protected ? { protected: 1 } : {}), returns: info.returns?.type ?? null };
    }
    endpoints[path] = methods;
  }
  if (missing.length) {
    console.error(`not in ${file}: ${missing.join(', ')}`);
    process.exit(1);
  }
  const unknownIndexed = [...indexedSeen].filter((n) => !(n in INDEXED.counts));
  if (unknownIndexed.length) {
    console.error(`no count for indexed parameters: ${unknownIndexed.join(', ')} (add them to INDEXED)`);
    process.exit(1);
  }
  const digest = {
    source: 'proxmox/pve-docs api-viewer/apidata.js',
    commit,
    generated_by: 'scripts/pve-api-digest.mjs',
    note:
      'Facts from the published Proxmox VE API schema for the API paths the cortex lab serves: per method, every parameter with its type and constraints (required unless optional: 1), whether more parameters are accepted (additional_properties: 1; otherwise Proxmox answers 400 "property is not defined in schema and the schema does not allow additional properties"), and the return type. Path placeholders are {name}; `x[n]` stands for x0 .. x<count-1> (counts in `indexed`).',
    indexed: INDEXED,
    named_formats: NAMED_FORMATS,
    endpoints,
  };
  writeFileSync(OUT, `${layout(digest, 0)}\n`);
  console.log(`wrote ${OUT}: ${Object.keys(endpoints).length} paths`);
}

main();
