/**
 * Globs for repository names, branches and Falco rule names: `*` is any run of characters except
 * `/`, `**` is any run including `/`, `?` is one character other than `/`; everything else is
 * literal. The whole string must match.
 */
export function globToRegExp(glob: string, options: { caseInsensitive?: boolean } = {}): RegExp {
  let src = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        src += '.*';
        i++;
      } else src += '[^/]*';
    } else if (c === '?') src += '[^/]';
    else src += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, options.caseInsensitive ? 'i' : '');
}

export function globMatch(glob: string, value: string, options: { caseInsensitive?: boolean } = {}): boolean {
  return globToRegExp(glob, options).test(value);
}
