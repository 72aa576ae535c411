import { describe, expect, it } from 'vitest';
import { createCatalogue } from '../../../../src/contractors/catalogue.js';
import { loadCatalogue } from '../../../../src/contractors/load-catalogue.js';
import { createImplementationRegistry } from '../../../../src/contractors/registry.js';
import { DefinitionInvalidError } from '../../../../src/errors.js';
import { load, loadErrors, rootWith } from './helpers.js';

const HOST_PARAMS = `    parameters:
      type: object
      additionalProperties: false
      properties:
        host: { type: string, description: The load-balancer VM }
      required: [host]
`;

const LB = `contractor: infrastructure-contractor
actions:
  - name: restart_haproxy
    summary: Restart HAProxy on the LB VM
    argv: ["ssh", "root@\${params.host}", "systemctl", "restart", "haproxy"]
${HOST_PARAMS}    output: { format: json, map: { pid: MainPID } }
    idempotent: true
    timeout_seconds: 60
    compensation: { action: stop_haproxy, parameters: { host: "\${input.host}", pid: "\${output.pid}" } }
  - name: stop_haproxy
    summary: Stop HAProxy
    argv: [ssh, "root@\${params.host}", systemctl, stop, haproxy]
    parameters:
      type: object
      additionalProperties: false
      properties: { host: { type: string }, pid: { type: [integer, "null"] } }
      required: [host]
`;

describe('loadCatalogue: operator action files', () => {
  it('without a contractors/ directory is the built-in catalogue', async () => {
    const cat = await loadCatalogue(rootWith({}));
    expect(cat.get('infrastructure-contractor', 'provision_vm')?.operatorDefined).toBeUndefined();
    expect(cat.contractors()).toEqual(createCatalogue().contractors());
  });

  it('adds operator actions, marked operatorDefined, with outputs derived from the output format', async () => {
    const cat = await load({ 'infrastructure-contractor.yaml': LB, 'README.md': 'ignored', '.hidden.yaml': 'ignored: [' });
    const spec = cat.get('infrastructure-contractor', 'restart_haproxy');
    expect(spec).toMatchObject({
      contractor: 'infrastructure-contractor',
      name: 'restart_haproxy',
      kind: 'tool',
      uses: ['ssh'],
      idempotent: true,
      operatorDefined: true,
      outputs: { exit_code: expect.any(String), pid: '`MainPID` of the JSON output.' },
      compensation: { action: 'stop_haproxy', parameters: { host: '${input.host}', pid: '${output.pid}' }, requires_outputs: ['pid'] },
    });
    expect(Object.keys(cat.get('infrastructure-contractor', 'stop_haproxy')?.outputs ?? {})).toEqual(['exit_code', 'stdout']);
    // Built-ins and generic actions are still there.
    expect(cat.get('infrastructure-contractor', 'provision_vm')).toBeDefined();
    expect(cat.get('infrastructure-contractor', 'execute_command')).toBeDefined();
    const impls = createImplementationRegistry();
    expect(impls.has(spec!)).toBe(true);
    expect(await impls.get(spec!)).toBeDefined();
  });

  it('an operator action replaces the built-in one of the same name; a new contractor becomes known', async () => {
    const cat = await load({
      'infra.json': JSON.stringify({
        contractor: 'infrastructure-contractor',
        actions: [{ name: 'provision_vm', summary: 'Our own VM provisioning', tool: '/usr/local/bin/mkvm', argv: ['--name', '${params.name}'], parameters: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] } }],
      }),
      'dns.yaml': `contractor: dns-contractor\nactions:\n  - name: flush_cache\n    summary: Flush the DNS cache\n    tool: kubectl\n    argv: [rollout, restart, deployment/coredns, -n, kube-system]\n`,
    });
    expect(cat.get('infrastructure-contractor', 'provision_vm')).toMatchObject({ operatorDefined: true, uses: ['mkvm'], summary: 'Our own VM provisioning' });
    expect(cat.isKnownContractor('dns-contractor')).toBe(true);
    expect(cat.get('dns-contractor', 'flush_cache')).toMatchObject({ uses: ['kubectl'], idempotent: false });
    // Generic actions are available to the new contractor too.
    expect(cat.get('dns-contractor', 'wait')).toBeDefined();
  });

  it('a compensation may name a built-in action of the same contractor', async () => {
    const cat = await load({
      'snap.yaml': `contractor: infrastructure-contractor
actions:
  - name: quick_snapshot
    summary: Snapshot a VM with our script
    argv: [/opt/ops/snap, "\${params.vmid}"]
    parameters: { type: object, additionalProperties: false, properties: { vmid: { type: integer } }, required: [vmid] }
    output: { format: json, map: { snapname: name } }
    compensation: { action: delete_vm_snapshot, parameters: { vmid: "\${input.vmid}", snapshot_name: "\${output.snapname}" } }
`,
    });
    expect(cat.get('infrastructure-contractor', 'quick_snapshot')?.compensation?.action).toBe('delete_vm_snapshot');
  });
});

describe('loadCatalogue: invalid operator files are refused with file:line:column and pointer', () => {
  it('argv that is not an array (schema error)', async () => {
    const errors = await loadErrors({ 'x.yaml': 'contractor: infrastructure-contractor\nactions:\n  - name: a\n    summary: s\n    argv: "ssh root@lb systemctl restart haproxy"\n' });
    expect(errors).toEqual(['contractors/x.yaml:5:11: /actions/0/argv: expected array']);
  });

  it('malformed YAML', async () => {
    const errors = await loadErrors({ 'x.yaml': 'contractor: infrastructure-contractor\nactions: [\n' });
    expect(errors[0]).toMatch(/^contractors\/x\.yaml:\d+:\d+: malformed YAML/);
  });

  it('unknown properties and a missing summary', async () => {
    const errors = await loadErrors({ 'x.json': '{\n  "contractor": "infrastructure-contractor",\n  "actions": [\n    { "name": "a", "argv": ["ls"], "shell": true }\n  ]\n}\n' });
    expect(errors).toEqual([
      'contractors/x.json:4:5: /actions/0: missing required property "summary"',
      'contractors/x.json:4:45: /actions/0/shell: unknown property "shell" (not allowed here)',
    ]);
  });

  it('a bad parameter schema', async () => {
    const errors = await loadErrors({
      'x.yaml': 'contractor: infrastructure-contractor\nactions:\n  - name: a\n    summary: s\n    argv: [ls]\n    parameters:\n      type: object\n      properties: { host: { type: strng } }\n',
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^contractors\/x\.yaml:6:5: \/actions\/0\/parameters: not a valid JSON Schema \(draft 2020-12, strict\): schema is invalid/);
  });

  it('a parameter schema that ajv strict mode refuses (required name not declared)', async () => {
    const errors = await loadErrors({
      'x.yaml': 'contractor: infrastructure-contractor\nactions:\n  - name: a\n    summary: s\n    argv: [ls]\n    parameters: { type: object, properties: { a: { type: string } }, required: [b] }\n',
    });
    expect(errors[0]).toMatch(/\/actions\/0\/parameters: .*strict mode: required property "b" is not defined/);
  });

  it('an unknown tool', async () => {
    const base = (tool: string) => `contractor: infrastructure-contractor\nactions:\n  - name: a\n    summary: s\n    tool: "${tool}"\n    argv: [status]\n`;
    expect(await loadErrors({ 'x.yaml': base('./bin/lbctl') })).toEqual([
      'contractors/x.yaml:5:11: /actions/0/tool: unknown tool "./bin/lbctl": a relative path depends on the working directory; give an absolute path or a program name on PATH',
    ]);
    expect((await loadErrors({ 'x.yaml': base('kubectl --context prod') }))[0]).toMatch(/unknown tool "kubectl --context prod": give one program here and its arguments in argv/);
    expect((await loadErrors({ 'x.yaml': base('${params.tool}') }))[0]).toMatch(/unknown tool "\$\{params\.tool\}": the program cannot be a template/);
    expect((await loadErrors({ 'x.yaml': base('rm;ls') }))[0]).toMatch(/unknown tool "rm;ls": expected pvesh, talosctl, kubectl, helm, an absolute path or a program name on PATH/);
    // Without a tool, argv[0] is the program and gets the same checks.
    expect(await loadErrors({ 'x.yaml': 'contractor: c-contractor\nactions:\n  - name: a\n    summary: s\n    argv: ["scripts/run.sh"]\n' })).toEqual([
      'contractors/x.yaml:5:12: /actions/0/argv/0: unknown tool "scripts/run.sh": a relative path depends on the working directory; give an absolute path or a program name on PATH',
    ]);
    expect(await loadErrors({ 'x.yaml': 'contractor: c-contractor\nactions:\n  - name: a\n    summary: s\n    argv: []\n' })).toEqual([
      'contractors/x.yaml:5:5: /actions/0/argv: without "tool", argv[0] must be the program to run (a string)',
    ]);
  });

  it('a compensation that names an unknown action, or gives parameters its schema refuses', async () => {
    const errors = await loadErrors({
      'x.yaml': `contractor: infrastructure-contractor
actions:
  - name: a
    summary: s
    argv: [ls]
    compensation: { action: undo_a }
  - name: b
    summary: s
    argv: [ls]
    compensation: { action: destroy_vm, parameters: { vm_id: 1 } }
`,
    });
    expect(errors).toEqual([
      'contractors/x.yaml:6:29: /actions/0/compensation/action: unknown action "undo_a" for infrastructure-contractor (not in contractors/ nor built in; cortex actions infrastructure-contractor lists them)',
      'contractors/x.yaml:10:41: /actions/1/compensation/parameters: missing required property "vmid" (parameters of destroy_vm)',
      'contractors/x.yaml:10:41: /actions/1/compensation/parameters: missing required property "name" (parameters of destroy_vm)',
      'contractors/x.yaml:10:41: /actions/1/compensation/parameters: missing required property "vm" (parameters of destroy_vm)',
      'contractors/x.yaml:10:62: /actions/1/compensation/parameters/vm_id: unknown property "vm_id" (not allowed here) (parameters of destroy_vm)',
    ]);
  });

  it('a duplicate name in one file, and the same action in two files', async () => {
    const one = 'contractor: infrastructure-contractor\nactions:\n  - name: a\n    summary: s\n    argv: [ls]\n  - name: a\n    summary: again\n    argv: [ls]\n';
    expect(await loadErrors({ 'x.yaml': one })).toEqual([
      'contractors/x.yaml:6:11: /actions/1/name: duplicate action name "a" (also /actions/0); each action is defined once per contractor',
    ]);
    const a = 'contractor: infrastructure-contractor\nactions:\n  - name: a\n    summary: s\n    argv: [ls]\n';
    expect(await loadErrors({ 'a.yaml': a, 'b.yaml': a })).toEqual([
      'contractors/b.yaml:3:11: /actions/0/name: infrastructure-contractor action "a" is also defined in contractors/a.yaml (/actions/0)',
    ]);
  });

  it('references: undeclared parameters, other roots, bad expressions, outputs that do not exist', async () => {
    const errors = await loadErrors({
      'x.yaml': `contractor: infrastructure-contractor
actions:
  - name: a
    summary: s
    argv: [ls, "\${params.hots}", "\${parameters.host}", { when: "\${params.host} ==", args: [-x] }]
${HOST_PARAMS}    output: { format: json, map: { state: "status.state" } }
    success: { condition: "\${output.status} == 'ok'" }
    compensation: { action: a, parameters: { host: "\${input.host}", x: "\${secrets.TOKEN}" } }
`,
    });
    expect(errors).toEqual([
      expect.stringMatching(/:5:16: \/actions\/0\/argv\/1: \$\{params\.hots\}: "hots" is not a declared parameter \(declared: host\)$/),
      expect.stringMatching(/\/actions\/0\/argv\/2: \$\{parameters\.host\}: templates may read \$\{params\.<name>\} and \$\{secrets\.<NAME>\} only$/),
      expect.stringMatching(/\/actions\/0\/argv\/3\/when: bad condition "\$\{params\.host\} ==": /),
      expect.stringMatching(/:13:27: \/actions\/0\/success\/condition: output\.status: "status" is not an output of a \(outputs: exit_code, state\)$/),
      expect.stringMatching(/\/actions\/0\/compensation\/parameters\/x: \$\{secrets\.TOKEN\}: compensation parameters may read/),
    ]);
  });

  it('output.map needs json or lines; lines paths are indexes', async () => {
    const errors = await loadErrors({
      'x.yaml': `contractor: infrastructure-contractor
actions:
  - name: a
    summary: s
    argv: [ls]
    output: { map: { x: y } }
  - name: b
    summary: s
    argv: [ls]
    output: { format: lines, map: { first: name, exit_code: "[0]" } }
`,
    });
    expect(errors).toEqual([
      'contractors/x.yaml:6:15: /actions/0/output/map: output.map needs format json or lines (format is text)',
      'contractors/x.yaml:10:44: /actions/1/output/map/first: bad path "name": the lines of the output are a list; use an index such as [0]',
      'contractors/x.yaml:10:61: /actions/1/output/map/exit_code: exit_code is always an output; choose another key',
    ]);
  });

  it('a contractor name that would share a masters/ folder with a built-in', async () => {
    expect(await loadErrors({ 'x.yaml': 'contractor: talos-master\nactions:\n  - name: a\n    summary: s\n    argv: [ls]\n' })).toEqual([
      'contractors/x.yaml:1:13: /contractor: "talos-master" would share masters/talos/ with talos-contractor; choose another name',
    ]);
  });

  it('reports every file at once, with the file named in the summary', async () => {
    const root = rootWith({ 'a.yaml': 'contractor: A\nactions: []\n', 'b.yaml': 'contractor: b-contractor\nactions:\n  - name: x\n    summary: s\n    argv: [ls]\n    idempotent: yes-please\n' });
    const e = await loadCatalogue(root).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DefinitionInvalidError);
    const err = e as DefinitionInvalidError;
    expect(err.code).toBe('CORTEX_CONTRACTORS_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.issues.map((i) => i.file)).toEqual(['contractors/a.yaml', 'contractors/a.yaml', 'contractors/b.yaml']);
    expect(err.message).toContain(`operator action file(s) under ${root}/contractors are invalid:`);
  });
});

describe('loadCatalogue: replacing a built-in action', () => {
  it('refuses a replacement that built-in compensations can no longer call', async () => {
    // provision_vm's compensation calls destroy_vm with {vmid: ${output.vmid}, ...}.
    const errors = await loadErrors({
      'x.yaml': 'contractor: infrastructure-contractor\nactions:\n  - name: destroy_vm\n    summary: ours\n    argv: [/opt/ops/destroy, "${params.id}"]\n    parameters: { type: object, additionalProperties: false, properties: { id: { type: integer } }, required: [id] }\n',
    });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/^contractors\/x\.yaml:6:5: \/actions\/0\/parameters: built-in \w+ undoes itself with destroy_vm \{.*\}, which this schema refuses: /);
  });
});
