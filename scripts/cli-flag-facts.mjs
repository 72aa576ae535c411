#!/usr/bin/env node
/**
 * Writes test/fixtures/cli-flags.json: the flags of the helm and talosctl commands cortex runs, read
 * from the CLI references their projects generate with cobra (helm/helm-www docs/helm/helm_*.md,
 * siderolabs/talos website/content/<v>/reference/cli.md), one table per release.
 *
 *   node scripts/cli-flag-facts.mjs <helm-www clone> <talos clone> > test/fixtures/cli-flags.json
 *
 * The releases and commits are listed below; a clone has them all (git show <commit>:<path>).
 */
import { execFileSync } from 'node:child_process';

const HELM = [
  { version: '3.7.0', commit: 'a2b0eb0e', dir: 'content/en/docs/helm', title: 'Update CLI references to Helm 3.7.0' },
  { version: '3.16.0', commit: 'be112be1', dir: 'content/en/docs/helm', title: 'Update docs for 3.16.0' },
  { version: '4.2.3', commit: 'd5d967b2', dir: 'docs/helm', title: 'chore(docs): bump version label to 4.2.3' },
];
const HELM_COMMANDS = ['upgrade', 'uninstall', 'rollback', 'status', 'history', 'list', 'version'];

const TALOS = [
  { version: '1.6.2', tag: 'v1.6.2', path: 'website/content/v1.6/reference/cli.md' },
  { version: '1.11.6', tag: 'v1.11.6', path: 'website/content/v1.11/reference/cli.md' },
];
const TALOS_COMMANDS = ['apply-config', 'bootstrap', 'etcd snapshot', 'gen config', 'gen secrets', 'get', 'health', 'kubeconfig', 'reset', 'rollback', 'upgrade', 'version'];

const [helmWww, talos] = process.argv.slice(2);
if (!helmWww || !talos) {
  process.stderr.write('usage: node scripts/cli-flag-facts.mjs <helm-www clone> <talos clone>\n');
  process.exit(2);
}

const git = (dir, ...args) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });

/** The lines of the first ``` block after `heading` in `text`. */
function block(text, heading) {
  const at = text.indexOf(heading);
  if (at < 0) return [];
  const open = text.indexOf('```', at);
  const close = text.indexOf('```', open + 3);
  return text.slice(open + 3, close).split('\n').filter((l) => l.trim());
}

/** `  -n, --namespace string   desc` -> ['namespace', { short: 'n', type: 'string' }] (cobra's flag usage lines). */
function parseFlag(line) {
  const m = /^\s*(?:-(\S), )?--([A-Za-z0-9][\w-]*)(.*)$/.exec(line);
  if (!m) return undefined;
  const rest = m[3];
  // the type column ends where cobra's padding (two or more spaces) before the description starts
  const typeSpec = /^ (\S.*?)(?: {2,}|$)/.exec(rest)?.[1] ?? '';
  const fact = {};
  if (m[1]) fact.short = m[1];
  const opt = /\[=([^\]]*)\]$/.exec(typeSpec);
  if (!typeSpec) fact.type = 'bool';
  else if (typeSpec.includes(', ')) {
    fact.type = 'enum';
    fact.values = typeSpec.split(', ');
  } else fact.type = typeSpec.replace(/\[=[^\]]*\]$/, '');
  if (opt) fact.noOptValue = opt[1];
  return [m[2], fact];
}

function command(text) {
  const usage = block(text, '\n```')[0]?.trim() ?? '';
  const flags = Object.fromEntries(block(text, '### Options\n').map(parseFlag).filter(Boolean));
  const inherited = Object.fromEntries(block(text, '### Options inherited from parent commands').map(parseFlag).filter(Boolean));
  return { usage, flags, inherited };
}

const out = {
  note:
    'Flags of the helm and talosctl commands cortex runs, from the CLI references each project generates with cobra; ' +
    'made by scripts/cli-flag-facts.mjs. type is the flag value type as the reference prints it (bool: no value); ' +
    'noOptValue: the value of the flag given bare; enum: the values listed.',
  helm: {},
  talosctl: {},
};

for (const h of HELM) {
  const commit = git(helmWww, 'rev-parse', `${h.commit}^{commit}`).trim();
  const commands = {};
  for (const c of HELM_COMMANDS) commands[c] = command(git(helmWww, 'show', `${commit}:${h.dir}/helm_${c}.md`));
  out.helm[h.version] = { source: { repo: 'helm/helm-www', commit, path: `${h.dir}/helm_<command>.md`, title: h.title }, commands };
}

for (const t of TALOS) {
  const commit = git(talos, 'rev-parse', `${t.tag}^{commit}`).trim();
  const doc = git(talos, 'show', `${commit}:${t.path}`);
  const commands = {};
  for (const c of TALOS_COMMANDS) {
    const head = `\n## talosctl ${c}\n`;
    const at = doc.indexOf(head);
    if (at < 0) throw new Error(`talosctl ${c} not in ${t.path}`);
    const end = doc.indexOf('\n## talosctl', at + head.length);
    commands[c] = command(doc.slice(at, end < 0 ? undefined : end));
  }
  out.talosctl[t.version] = { source: { repo: 'siderolabs/talos', commit, path: t.path, tag: t.tag }, commands };
}

process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
