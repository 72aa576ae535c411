/**
 * Field validation as the Kubernetes API server does it, ported from k8s.io/apimachinery v0.32.4
 * (commit 59e9003f02d6f0c8fff53719a7a0604ec82ee9a9, the release of the 1.32 server the lab reports):
 * pkg/util/validation/validation.go (IsQualifiedName, IsValidLabelValue, IsDNS1123Label/Subdomain,
 * IsDNS1035Label, MaxLenError, RegexError), pkg/apis/meta/v1/validation/validation.go
 * (ValidateLabels, ValidateLabelSelector), pkg/api/validation/objectmeta.go (ValidateAnnotations,
 * TotalAnnotationSizeLimitB) and pkg/util/validation/field/errors.go (ErrorBody, the cause types).
 * The messages are theirs, word for word, so real kubectl prints what it would print.
 */

export type FieldErrorType = 'FieldValueInvalid' | 'FieldValueRequired' | 'FieldValueTooLong' | 'FieldValueForbidden' | 'FieldValueNotSupported';

/** One field.Error: the cause type, the field path, the bad value (undefined: omitted) and the detail. */
export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  detail: string;
}

const TYPE_TEXT: Record<FieldErrorType, string> = {
  FieldValueInvalid: 'Invalid value',
  FieldValueRequired: 'Required value',
  FieldValueTooLong: 'Too long',
  FieldValueForbidden: 'Forbidden',
  FieldValueNotSupported: 'Unsupported value',
};

/** Go's %q for a string (strconv.Quote): JSON's escapes, with \xNN for control bytes. */
export function goQuote(s: string): string {
  return JSON.stringify(s)
    .replace(/\\u00([0-1][0-9a-f])/g, '\\x$1')
    .replace(/\u007f/g, '\\x7f');
}

/** field.Error.ErrorBody(): `Invalid value: "x": detail`, `Required value: detail`, `Too long: detail`. */
export function errorBody(e: FieldError): string {
  let s = TYPE_TEXT[e.type];
  if (e.type === 'FieldValueInvalid' || e.type === 'FieldValueNotSupported') {
    const v = e.value;
    if (v === undefined || v === null) s += ': null';
    else if (typeof v === 'string') s += `: ${goQuote(v)}`;
    else if (typeof v === 'number' || typeof v === 'boolean') s += `: ${String(v)}`;
    else s += `: ${JSON.stringify(v)}`;
  }
  return e.detail ? `${s}: ${e.detail}` : s;
}

const invalid = (field: string, value: unknown, detail: string): FieldError => ({ type: 'FieldValueInvalid', field, value, detail });

/** Go's len(): bytes of the UTF-8 encoding. */
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

export function maxLenError(n: number): string {
  return `must be no more than ${n} characters`;
}

export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME_ERR = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_RE = new RegExp(`^${QUALIFIED_NAME_FMT}$`);
const QUALIFIED_NAME_MAX = 63;

const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE_ERR = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FMT}$`);
export const LABEL_VALUE_MAX_LENGTH = 63;

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL_ERR = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_ERR = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL_ERR = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_LABEL_RE = new RegExp(`^${DNS1035_LABEL_FMT}$`);

/** Total size (keys + values, in bytes) the annotations of one object may have: 256 KiB. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * (1 << 10);

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 253) errs.push(maxLenError(253));
  if (!DNS1123_SUBDOMAIN_RE.test(value)) errs.push(regexError(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, 'example.com'));
  return errs;
}

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!DNS1123_LABEL_RE.test(value)) {
    // A valid subdomain that is not a valid label: since the length was checked, it must be dots.
    if (DNS1123_SUBDOMAIN_RE.test(value)) errs.push('must not contain dots');
    else errs.push(regexError(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, 'my-name', '123-abc'));
  }
  return errs;
}

export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!DNS1035_LABEL_RE.test(value)) errs.push(regexError(DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  return errs;
}

/** IsQualifiedName: `[prefix/]name`, prefix a DNS subdomain, name ≤ 63 of the qualified-name pattern. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0] as string;
  else if (parts.length === 2) {
    const prefix = parts[0] as string;
    name = parts[1] as string;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else errs.push(...isDNS1123Subdomain(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (byteLength(name) > QUALIFIED_NAME_MAX) errs.push(`name part ${maxLenError(QUALIFIED_NAME_MAX)}`);
  if (!QUALIFIED_NAME_RE.test(name)) errs.push(`name part ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenError(LABEL_VALUE_MAX_LENGTH));
  if (!LABEL_VALUE_RE.test(value)) errs.push(regexError(LABEL_VALUE_ERR, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  return errs;
}

function isStringMap(m: unknown): m is Record<string, unknown> {
  return m !== null && typeof m === 'object' && !Array.isArray(m);
}

/** ValidateLabels: each key a qualified name, each value a label value; the bad key or value is shown. */
export function validateLabels(labels: unknown, field: string): FieldError[] {
  if (!isStringMap(labels)) return [];
  const errs: FieldError[] = [];
  for (const [k, raw] of Object.entries(labels)) {
    errs.push(...isQualifiedName(k).map((m) => invalid(field, k, m)));
    const v = String(raw ?? '');
    errs.push(...isValidLabelValue(v).map((m) => invalid(field, v, m)));
  }
  return errs;
}

/** ValidateAnnotations: keys are qualified names (case-insensitive), and all of it is at most 256 KiB. */
export function validateAnnotations(annotations: unknown, field: string): FieldError[] {
  if (!isStringMap(annotations)) return [];
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, raw] of Object.entries(annotations)) {
    errs.push(...isQualifiedName(k.toLowerCase()).map((m) => invalid(field, k, m)));
    total += byteLength(k) + byteLength(String(raw ?? ''));
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_B) errs.push({ type: 'FieldValueTooLong', field, detail: `may not be more than ${TOTAL_ANNOTATION_SIZE_LIMIT_B} bytes` });
  return errs;
}

/** ValidateLabelSelector (invalid label values not allowed: a create). */
export function validateLabelSelector(selector: unknown, field: string): FieldError[] {
  if (!isStringMap(selector)) return [];
  const errs = validateLabels(selector.matchLabels, `${field}.matchLabels`);
  const exprs = Array.isArray(selector.matchExpressions) ? (selector.matchExpressions as Array<Record<string, unknown>>) : [];
  exprs.forEach((e, i) => {
    const at = `${field}.matchExpressions[${i}]`;
    const values = Array.isArray(e.values) ? (e.values as unknown[]).map((v) => String(v)) : [];
    const op = String(e.operator ?? '');
    if (op === 'In' || op === 'NotIn') {
      if (values.length === 0) errs.push({ type: 'FieldValueRequired', field: `${at}.values`, detail: "must be specified when `operator` is 'In' or 'NotIn'" });
    } else if (op === 'Exists' || op === 'DoesNotExist') {
      if (values.length > 0) errs.push({ type: 'FieldValueForbidden', field: `${at}.values`, detail: "may not be specified when `operator` is 'Exists' or 'DoesNotExist'" });
    } else errs.push(invalid(`${at}.operator`, op, 'not a valid selector operator'));
    const key = String(e.key ?? '');
    errs.push(...isQualifiedName(key).map((m) => invalid(`${at}.key`, key, m)));
    values.forEach((v, j) => errs.push(...isValidLabelValue(v).map((m) => invalid(`${at}.values[${j}]`, v, m))));
  });
  return errs;
}

/** ValidateObjectMeta's label and annotation part, under `path` (metadata, spec.template.metadata). */
export function validateMetaMaps(meta: unknown, path: string): FieldError[] {
  if (!isStringMap(meta)) return [];
  return [...validateLabels(meta.labels, `${path}.labels`), ...validateAnnotations(meta.annotations, `${path}.annotations`)];
}
