import { ExitCode, NotFoundError } from '../../errors.js';
import { loadCatalogue } from '../../contractors/load-catalogue.js';
import type { ActionSpec } from '../../model/catalogue.js';
import type { CommandContext } from '../context.js';
import { listFormat, printStructured } from '../render/format.js';
import { table } from '../render/table.js';

function describeSpec(spec: ActionSpec): Record<string, unknown> {
  return {
    contractor: spec.contractor,
    action: spec.name,
    summary: spec.summary,
    kind: spec.kind,
    uses: spec.uses,
    idempotent: spec.idempotent,
    compensation: spec.compensation ?? null,
    outputs: spec.outputs,
    parameters: spec.parameters,
    operator_defined: Boolean(spec.operatorDefined),
  };
}

/** Parameter names, required ones marked with `*`: `cluster*, namespace`. */
function parameterNames(spec: ActionSpec): string {
  const required = new Set(Array.isArray(spec.parameters.required) ? (spec.parameters.required as string[]) : []);
  return Object.keys(spec.parameters.properties ?? {}).map((n) => (required.has(n) ? `${n}*` : n)).join(',') || '-';
}

/**
 * `cortex actions [CONTRACTOR] [ACTION] [-o json|yaml|wide|name]`: the action catalogue. `-o name`
 * prints `contractor/action` per line, or only the action names when a contractor is given.
 */
export async function actions(ctx: CommandContext, args: unknown[], opts: { output?: string } = {}): Promise<number> {
  const [contractor, action] = args as [string | undefined, string | undefined];
  const format = listFormat(ctx.out, opts, ['json', 'yaml', 'wide', 'name']);
  const catalogue = await loadCatalogue(ctx.root.dir);
  if (contractor && !catalogue.isKnownContractor(contractor) && contractor !== '*') {
    throw new NotFoundError(`unknown contractor "${contractor}"`, { hint: `known: ${catalogue.contractors().join(', ')}` });
  }
  const contractors = contractor ? [contractor] : catalogue.contractors();
  if (action) {
    const spec = catalogue.get(contractor as string, action);
    if (!spec) throw new NotFoundError(`${contractor} has no action "${action}"`, { hint: `cortex actions ${contractor}` });
    if (format === 'json' || format === 'yaml') await printStructured(ctx.out, format, describeSpec(spec));
    else if (format === 'name') ctx.out.line(spec.name);
    else {
      const s = ctx.out.style;
      ctx.out.line(`${s.bold(spec.name)} [${spec.contractor}] ${spec.kind}${spec.uses.length ? ` via ${spec.uses.join(', ')}` : ''}`);
      ctx.out.line(spec.summary);
      ctx.out.line(`idempotent: ${spec.idempotent ? 'yes' : 'no'}`);
      ctx.out.line(`compensation: ${spec.compensation ? `${spec.compensation.action} ${JSON.stringify(spec.compensation.parameters)}` : 'none'}`);
      ctx.out.line(s.bold('outputs:'));
      for (const [k, v] of Object.entries(spec.outputs)) ctx.out.line(`  ${k}: ${v}`);
      ctx.out.line(s.bold('parameters (JSON Schema):'));
      ctx.out.line(JSON.stringify(spec.parameters, null, 2));
    }
    return ExitCode.OK;
  }
  // The generic actions (contractor "*") belong to every contractor: listed once.
  const seen = new Set<string>();
  const specs = contractors
    .flatMap((c) => catalogue.actionsOf(c))
    .filter((spec) => {
      const key = `${spec.contractor}/${spec.name}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  if (format === 'json' || format === 'yaml') {
    await printStructured(ctx.out, format, { actions: specs.map(describeSpec) });
    return ExitCode.OK;
  }
  if (format === 'name') {
    for (const s of specs) ctx.out.line(contractor ? s.name : `${s.contractor}/${s.name}`);
    return ExitCode.OK;
  }
  const wide = format === 'wide';
  ctx.out.line(
    table(
      ['CONTRACTOR', 'ACTION', 'KIND', 'IDEMPOTENT', 'UNDO', 'OUTPUTS', ...(wide ? ['USES', 'PARAMETERS', 'SOURCE'] : [])],
      specs.map((s) => [
        s.contractor,
        s.name,
        s.kind,
        s.idempotent ? 'yes' : 'no',
        s.compensation?.action ?? '-',
        Object.keys(s.outputs).join(', ') || '-',
        ...(wide ? [s.uses.join(',') || '-', parameterNames(s), s.operatorDefined ? 'operator-defined' : 'built-in'] : []),
      ]),
    ),
  );
  if (specs.some((s) => s.contractor === '*')) ctx.out.line(ctx.out.style.dim('* every contractor has these actions'));
  return ExitCode.OK;
}
