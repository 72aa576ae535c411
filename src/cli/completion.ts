import { readdir, readFile } from 'node:fs/promises';
import type { Command, Option } from 'commander';
import { listDefinitionFiles } from '../definitions/repository.js';
import { layout } from '../layout.js';
import { CONTRACTORS } from '../model/catalogue.js';
import { resolveRoot, type RootInputs } from '../root.js';

/** The shells `cortex completion` writes a script for. */
export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/**
 * The script a shell sources to complete cortex. It only forwards: each Tab runs
 * `cortex __complete WORD…` (the words after `cortex`, the last one being completed) and offers
 * the lines it prints; when there are none the shell completes file names.
 */
export function completionScript(shell: Shell): string {
  switch (shell) {
    case 'bash':
      return `# cortex completion for bash: source <(cortex completion bash), or save it in
# /etc/bash_completion.d/cortex (~/.local/share/bash-completion/completions/cortex).
_cortex() {
  local IFS=$'\\n'
  COMPREPLY=( $(cortex __complete "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) )
}
complete -o default -o nosort -F _cortex cortex 2>/dev/null || complete -o default -F _cortex cortex
`;
    case 'zsh':
      return `#compdef cortex
# cortex completion for zsh: source <(cortex completion zsh) after compinit, or save it as
# _cortex in a directory of your fpath.
_cortex() {
  local -a candidates
  candidates=("\${(@f)$(cortex __complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  candidates=("\${(@)candidates:#}")
  if (( \${#candidates} )); then compadd -Q -- "\${(@)candidates}"; else _files; fi
}
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then _cortex "$@"; else compdef _cortex cortex; fi
`;
    case 'fish':
      return `# cortex completion for fish: cortex completion fish > ~/.config/fish/completions/cortex.fish
function __cortex_complete
    set -l words (commandline -opc) (commandline -ct)
    cortex __complete $words[2..-1] 2>/dev/null
end
complete -c cortex -f -a '(__cortex_complete)'
`;
  }
}

/** What a command's positional argument holds, by its name in the usage (`<execution_id>`). */
type Kind = 'workflow' | 'execution' | 'contractor' | 'shell' | 'none';

function kindOfArgument(name: string): Kind {
  if (name === 'workflow_id' || name === 'targets') return 'workflow';
  if (name === 'execution_id') return 'execution';
  if (name === 'contractor') return 'contractor';
  if (name === 'shell') return 'shell';
  return 'none';
}

function kindOfOptionValue(o: Option): Kind {
  if (o.long === '--workflow') return 'workflow';
  if (o.long === '--contractor') return 'contractor';
  return 'none';
}

const takesValue = (o: Option) => o.required || o.optional;

function findOption(options: readonly Option[], word: string): Option | undefined {
  return options.find((o) => o.long === word || o.short === word);
}

/**
 * Candidates for the last of `words` (the words after `cortex`): commands, the flags of the
 * command typed (and the global ones), an option's choices, workflow ids, execution ids. Pure
 * but for reading the root (named by --root in the words, as a command would resolve it).
 */
export async function complete(program: Command, words: readonly string[], root: Omit<RootInputs, 'flag'>): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const globals = program.options as readonly Option[];
  let command: Command | undefined;
  let rootFlag: string | undefined;
  let positionals = 0;
  let pending: Option | undefined;
  let afterDashDash = false;
  for (const w of before) {
    if (pending) {
      if (pending.long === '--root') rootFlag = w;
      pending = undefined;
      continue;
    }
    if (w === '--') {
      afterDashDash = true;
      continue;
    }
    if (!afterDashDash && w.startsWith('-') && w.length > 1) {
      const [flag] = w.split('=', 1);
      const o = findOption([...(command ? (command.options as readonly Option[]) : []), ...globals], flag!);
      if (o && takesValue(o) && !w.includes('=')) pending = o;
      else if (o?.long === '--root' && w.includes('=')) rootFlag = w.slice(w.indexOf('=') + 1);
      continue;
    }
    if (!command) {
      command = program.commands.find((c) => c.name() === w || c.aliases().includes(w));
      if (!command) return [];
    } else positionals++;
  }
  const starting = (values: Iterable<string>) => [...new Set(values)].filter((v) => v.startsWith(current)).sort();
  const options = [...(command ? (command.options as readonly Option[]) : []), ...globals];

  let kind: Kind = 'none';
  if (pending) {
    if (pending.argChoices) return starting(pending.argChoices);
    kind = kindOfOptionValue(pending);
  } else if (current.startsWith('-') && !afterDashDash) {
    return starting([...options.flatMap((o) => [o.long, o.short]).filter((f): f is string => Boolean(f)), '--help']);
  } else if (!command) {
    return starting(program.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name()));
  } else {
    const args = command.registeredArguments;
    const arg = args[Math.min(positionals, args.length - 1)];
    if (!arg || (positionals >= args.length && !arg.variadic)) return [];
    if (arg.argChoices) return starting(arg.argChoices);
    kind = kindOfArgument(arg.name());
  }
  if (kind === 'none') return [];
  if (kind === 'contractor') return starting(CONTRACTORS);
  if (kind === 'shell') return starting(SHELLS);
  const dir = resolveRoot({ ...root, flag: rootFlag }).dir;
  return starting(kind === 'workflow' ? await workflowIds(dir) : await executionIds(dir));
}

/** The workflow ids of the root's definitions (read with a regex, not validated: Tab is quick). */
async function workflowIds(root: string): Promise<string[]> {
  const ids: string[] = [];
  for (const f of await listDefinitionFiles(root).catch(() => [])) {
    const text = await readFile(f.path, 'utf8').catch(() => '');
    const id = /^workflow_id:\s*["']?([\w.-]+)/m.exec(text)?.[1] ?? /"workflow_id"\s*:\s*"([\w.-]+)"/.exec(text)?.[1];
    if (id) ids.push(id);
  }
  return ids;
}

/** Execution ids in active/ and history/, from the file names. */
async function executionIds(root: string): Promise<string[]> {
  const L = layout(root);
  const ids: string[] = [];
  for (const dir of [L.active, L.history]) {
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name.startsWith('workflow-') && name.endsWith('.json')) ids.push(name.slice('workflow-'.length, -'.json'.length));
    }
  }
  return ids;
}
