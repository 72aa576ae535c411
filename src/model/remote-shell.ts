/**
 * Tool command lines that go through ssh (`tools.pvesh: [ssh, root@pve01, pvesh]`). ssh does not
 * pass an argument vector: it joins the words after the destination with spaces and the remote
 * user's shell parses the result again, so `--tags a;b` would run `b` and `(x)` would be a syntax
 * error. Every argument cortex appends is therefore quoted for a POSIX shell; the words of the
 * configured prefix are left as the operator wrote them.
 */

/** Characters no POSIX shell (sh, bash, dash, zsh) treats specially inside a word. */
const PLAIN = /^[A-Za-z0-9_./:,@+-]+$/;

/** One word as a POSIX shell reads it back unchanged: plain words as they are, others in single quotes ('\'' for a quote). */
export function shellQuote(word: string): string {
  if (PLAIN.test(word) && !word.startsWith('~')) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** True when the command line runs its command through ssh (one of its words is an ssh program). */
export function isThroughSsh(prefix: readonly string[]): boolean {
  return prefix.some((w) => /(^|\/)ssh$/.test(w));
}

/**
 * The argv to run a configured tool with `args`: the prefix, then the arguments, each quoted for
 * the remote shell when the prefix goes through ssh.
 */
export function toolCommandLine(prefix: readonly string[], args: readonly string[]): string[] {
  return [...prefix, ...(isThroughSsh(prefix) ? args.map(shellQuote) : args)];
}
