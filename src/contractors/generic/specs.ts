/**
 * Generic actions every contractor has (contractor `*`): run a command, make an HTTP request,
 * wait. A contractor-specific action of the same name takes precedence.
 */
import { atLeastOne, bool, intOrIntList, map, num, params, str, strEnum } from '../param-schema.js';
import type { ActionSpec } from '../../model/catalogue.js';

export const GENERIC = '*';

/** Names of services in config `endpoints` that an HTTP action may address by name. */
export const ENDPOINT_NAMES = [
  'n8n',
  'slack',
  'pagerduty',
  'jira',
  'github',
  'prometheus',
  'grafana',
  'alertmanager',
  'email',
  'registry',
  'forensics',
] as const;

const executeCommand: ActionSpec = {
  contractor: GENERIC,
  name: 'execute_command',
  summary:
    'Runs one program on the cortex host with an argument array (no shell). A string `command` is split into words on ' +
    'whitespace (single and double quotes group words; no globbing, pipes or variables) before its `${…}` are resolved, ' +
    'so each `${…}` stays inside one argument whatever its value holds. Succeeds when the exit code is ' +
    'in `success_exit_codes` (default [0]). The process tree is killed at the action timeout.',
  kind: 'tool',
  uses: ['process'],
  parameters: params(
    {
      command: {
        description: 'Program and arguments: an array (numbers and booleans become their text), or one string split into words (e.g. "npm test"); a ${…} in the string is one argument, never split.',
        anyOf: [
          { type: 'string', minLength: 1 },
          { type: 'array', items: { type: ['string', 'number', 'boolean'] }, minItems: 1 },
        ],
      },
      working_directory: str('Directory to run in (default: the execution\'s work directory).', { minLength: 1 }),
      environment: map({ type: 'string' }, 'Extra environment variables (added to a minimal inherited environment).'),
      stdin: str('Text written to the program\'s standard input.'),
      expect_json: bool('Parse stdout as JSON into the `json` output; a parse error fails the action.', false),
      success_exit_codes: {
        type: 'array',
        items: { type: 'integer', minimum: 0, maximum: 255 },
        minItems: 1,
        description: 'Exit codes that count as success (default [0]).',
      },
    },
    ['command'],
  ),
  outputs: {
    exit_code: 'Exit code of the program.',
    stdout: 'Standard output without its trailing newlines, as a shell\'s $(…) gives it ("vm", not "vm\\n"); the last 64 KiB; secrets masked.',
    stderr: 'Standard error without its trailing newlines (the last 64 KiB; secrets masked).',
    json: 'stdout parsed as JSON when expect_json is true, else null.',
  },
  argvParameters: ['command'],
  idempotent: false,
};

const httpRequest: ActionSpec = {
  contractor: GENERIC,
  name: 'http_request',
  summary:
    'Makes one HTTP request to `url`, or to `path` under a service named in config `endpoints` (so --simulate can point ' +
    'it at the lab). Succeeds when the status is in `expected_status` (default: any 2xx). A JSON `body` is sent as ' +
    'application/json. 429 and 5xx answers are retried per config defaults.http_max_retries, honouring Retry-After.',
  kind: 'http',
  uses: ['http'],
  parameters: params(
    {
      method: strEnum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], 'HTTP method.', { default: 'GET' }),
      url: str('Absolute http(s) URL.', { pattern: '^https?://' }),
      endpoint: strEnum(ENDPOINT_NAMES, 'A service from config endpoints; the request goes to its url + `path`.'),
      path: str('Path (and query) appended to the endpoint\'s URL, e.g. /api/v2/alerts.', { pattern: '^/' }),
      headers: map({ type: 'string' }, 'Request headers. Use ${secrets.NAME} for credentials.'),
      body: {
        description: 'Request body: an object or array is sent as JSON, a string as text/plain.',
        type: ['object', 'array', 'string'],
      },
      expected_status: intOrIntList('Status code(s) that count as success (default any 2xx).', { minimum: 100, maximum: 599 }),
      timeout_seconds: num('Per-request timeout (default config defaults.http_timeout_seconds).', { exclusiveMinimum: 0, maximum: 3600 }),
      expect_json: bool('Parse the response body as JSON into `json`; a parse error fails the action.', false),
    },
    [],
    { anyOf: atLeastOne('url', 'endpoint') },
  ),
  outputs: {
    status: 'HTTP status code.',
    body: 'Response body as text (the first 64 KiB).',
    json: 'Response body parsed as JSON when expect_json is true (or the response is application/json), else null.',
    headers: 'Response headers (lower-case names).',
  },
  idempotent: false,
};

const wait: ActionSpec = {
  contractor: GENERIC,
  name: 'wait',
  summary:
    'Waits inside cortex: either a fixed number of `seconds`, or until the condition `until` (the definition condition ' +
    'language, e.g. "${check.output.status} == 200") is true, re-evaluated every `poll_seconds` and failing after ' +
    '`timeout_seconds`. After `cortex resume` the wait starts again (it is idempotent).',
  kind: 'builtin',
  uses: [],
  parameters: params(
    {
      seconds: num('Fixed wait in seconds.', { minimum: 0, maximum: 86400 }),
      until: str('Condition to wait for; evaluated against the execution\'s parameters, outputs and handoff data.', { minLength: 1 }),
      poll_seconds: num('How often `until` is re-evaluated (default 10).', { minimum: 0.1, maximum: 3600, default: 10 }),
      timeout_seconds: num('Give up on `until` after this long (default 600).', { minimum: 1, maximum: 86400, default: 600 }),
    },
    [],
    { anyOf: atLeastOne('seconds', 'until') },
  ),
  outputs: { waited_seconds: 'Seconds actually waited.' },
  rawParameters: ['until'],
  idempotent: true,
};

export const GENERIC_SPECS: readonly ActionSpec[] = [executeCommand, httpRequest, wait];
