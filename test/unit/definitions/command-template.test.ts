import { describe, expect, it } from 'vitest';
import { splitCommandTemplate } from '../../../src/definitions/command-template.js';

describe('splitCommandTemplate', () => {
  it('keeps each ${…} inside the word it is written in', () => {
    expect(splitCommandTemplate('printf %s| ${parameters.x}')).toEqual(['printf', '%s|', '${parameters.x}']);
    expect(splitCommandTemplate('kubectl -n ${parameters.ns} get pod --selector=app=${parameters.app}')).toEqual([
      'kubectl',
      '-n',
      '${parameters.ns}',
      'get',
      'pod',
      '--selector=app=${parameters.app}',
    ]);
    // Quotes and spaces inside an expression do not split or end anything.
    expect(splitCommandTemplate(`echo "\${a.output.items[0]}" \${b.output['x y']}`)).toEqual(['echo', '${a.output.items[0]}', "${b.output['x y']}"]);
    expect(splitCommandTemplate('${parameters.program}')).toEqual(['${parameters.program}']);
  });

  it('groups quoted words and honours backslashes like splitWords', () => {
    expect(splitCommandTemplate(`say "hello world" 'it''s' a\\ b ""`)).toEqual(['say', 'hello world', 'its', 'a b', '']);
  });

  it('refuses shell operators, unterminated quotes or expressions, and an empty command', () => {
    expect(() => splitCommandTemplate('cat ${parameters.f} | grep x')).toThrow(/"\|" is a shell feature/);
    expect(() => splitCommandTemplate('echo $(id) ${x}')).toThrow(/shell feature/);
    expect(() => splitCommandTemplate('echo "${x}')).toThrow(/unterminated " quote/);
    expect(() => splitCommandTemplate('echo ${x')).toThrow(/unterminated \$\{/);
    expect(() => splitCommandTemplate('   ')).toThrow(/empty command/);
  });
});
