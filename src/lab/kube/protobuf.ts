/**
 * Reads the one protobuf body kubectl sends (`kubectl create namespace`): `k8s\0` + runtime.Unknown
 * {1: TypeMeta {1: apiVersion, 2: kind}, 2: raw object}, where the object's field 1 is ObjectMeta
 * {1: name, 2: generateName, 3: namespace, 11: labels, 12: annotations} (KUBE-LAB §0).
 */
import type { KObject } from './object.js';

interface Field {
  no: number;
  wire: number;
  int?: number;
  bytes?: Buffer;
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): number => {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      result += (b & 0x7f) * mul;
      if (!(b & 0x80)) return result;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const no = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) out.push({ no, wire, int: varint() });
    else if (wire === 2) {
      const len = varint();
      if (i + len > buf.length) throw new Error('truncated field');
      out.push({ no, wire, bytes: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const str = (f: Field | undefined): string | undefined => f?.bytes?.toString('utf8');

function stringMap(fs: Field[], no: number): Record<string, string> | undefined {
  const entries = fs.filter((f) => f.no === no && f.bytes);
  if (!entries.length) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const kv = fields(e.bytes!);
    out[str(kv.find((f) => f.no === 1)) ?? ''] = str(kv.find((f) => f.no === 2)) ?? '';
  }
  return out;
}

export const PROTOBUF_MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes apiVersion, kind and the common metadata of a Kubernetes protobuf body. */
export function decodeProtobufObject(body: Buffer): KObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(PROTOBUF_MAGIC)) throw new Error('missing k8s protobuf prefix');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(unknown.find((f) => f.no === 1)?.bytes ?? Buffer.alloc(0));
  const raw = fields(unknown.find((f) => f.no === 2)?.bytes ?? Buffer.alloc(0));
  const meta = fields(raw.find((f) => f.no === 1)?.bytes ?? Buffer.alloc(0));
  const name = str(meta.find((f) => f.no === 1)) ?? '';
  const generateName = str(meta.find((f) => f.no === 2));
  const namespace = str(meta.find((f) => f.no === 3));
  const labels = stringMap(meta, 11);
  const annotations = stringMap(meta, 12);
  const kind = str(typeMeta.find((f) => f.no === 2)) ?? '';
  const obj: KObject = {
    apiVersion: str(typeMeta.find((f) => f.no === 1)) ?? '',
    kind,
    metadata: {
      name,
      ...(generateName ? { generateName } : {}),
      ...(namespace ? { namespace } : {}),
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
  };
  if (kind === 'Secret') {
    const data = byteMap(raw, 2);
    const type = str(raw.find((f) => f.no === 3));
    if (data) obj.data = data;
    if (type) obj.type = type;
  } else if (kind === 'ConfigMap') {
    const data = stringMap(raw, 2);
    const binaryData = byteMap(raw, 3);
    if (data) obj.data = data;
    if (binaryData) obj.binaryData = binaryData;
  } else if (kind !== 'Namespace') {
    throw new UnsupportedProtobufError(kind);
  }
  return obj;
}

/** A protobuf body of a kind the lab cannot read (only Namespace, Secret and ConfigMap). */
export class UnsupportedProtobufError extends Error {
  constructor(readonly kind: string) {
    super(`the lab API server reads protobuf bodies only for Namespace, Secret and ConfigMap (got ${kind || 'unknown kind'})`);
  }
}

/** map<string, bytes> as base64 values (how JSON carries Secret data). */
function byteMap(fs: Field[], no: number): Record<string, string> | undefined {
  const entries = fs.filter((f) => f.no === no && f.bytes);
  if (!entries.length) return undefined;
  const out: Record<string, string> = {};
  for (const e of entries) {
    const kv = fields(e.bytes!);
    out[str(kv.find((f) => f.no === 1)) ?? ''] = (kv.find((f) => f.no === 2)?.bytes ?? Buffer.alloc(0)).toString('base64');
  }
  return out;
}
