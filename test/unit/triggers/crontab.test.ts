import { describe, expect, it } from 'vitest';
import { blockPath, buildBlock, cronWord, currentBlock, lintCrontab, withBlock, withoutBlock } from '../../../src/triggers/crontab.js';

const input = { root: '/srv/ops/coordination', node: '/usr/local/bin/node', entry: '/opt/cortex/bin/cortex.js', path: ['/usr/local/bin', '/usr/bin', '/bin'] };

describe('the crontab block', () => {
  it('is marked, runs tick every minute with absolute paths, no variable lines, output to cron.log', () => {
    expect(buildBlock(input)).toBe(
      [
        '# BEGIN cortex (/srv/ops/coordination)',
        '# cortex tick every minute; managed by `cortex schedule install|uninstall --root /srv/ops/coordination`',
        '* * * * * /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin CORTEX_HOME=/srv/ops/coordination NO_COLOR=1 /usr/local/bin/node /opt/cortex/bin/cortex.js --root /srv/ops/coordination tick >> /srv/ops/coordination/state/cron.log 2>&1',
        '# END cortex (/srv/ops/coordination)',
        '',
      ].join('\n'),
    );
    expect(lintCrontab(buildBlock(input))).toEqual([]);
  });

  it('quotes words for /bin/sh and escapes % for cron; refuses newlines', () => {
    expect(cronWord('/home/x/my ops')).toBe("'/home/x/my ops'");
    expect(cronWord("it's")).toBe("'it'\\''s'");
    expect(cronWord('/srv/100%/root')).toBe('/srv/100\\%/root');
    expect(cronWord('/srv/a b%')).toBe("'/srv/a b\\%'");
    expect(() => cronWord('/a\nb')).toThrow(/newline/);
    const block = buildBlock({ ...input, root: '/srv/my ops' });
    expect(block).toContain("--root '/srv/my ops' tick >> '/srv/my ops/state/cron.log' 2>&1");
    expect(lintCrontab(block)).toEqual([]);
  });

  it('PATH: node, the tools, the current absolute PATH entries, the standard directories; no duplicates', () => {
    expect(blockPath('/opt/node/bin', ['/usr/local/bin'], '/home/u/bin:relative:/usr/bin:/x/node_modules/.bin')).toEqual([
      '/opt/node/bin',
      '/usr/local/bin',
      '/home/u/bin',
      '/usr/bin',
      '/usr/local/sbin',
      '/usr/sbin',
      '/sbin',
      '/bin',
    ]);
  });
});

describe('install and uninstall', () => {
  const others = 'MAILTO=ops@example.com\n# nightly backup\n0 3 * * * /usr/local/bin/backup.sh\n';
  const block = buildBlock(input);

  it('install twice equals install once; the other lines stay as they were', () => {
    const once = withBlock(others, block, input.root);
    expect(once.changed).toBe(true);
    expect(once.text).toBe(others + block);
    const twice = withBlock(once.text, block, input.root);
    expect(twice).toEqual({ text: once.text, changed: false });
    expect(currentBlock(twice.text, input.root)).toBe(block);
  });

  it('an empty crontab, a missing final newline, an updated block replaced in place', () => {
    expect(withBlock('', block, input.root).text).toBe(block);
    expect(withBlock('0 1 * * * a', block, input.root).text).toBe(`0 1 * * * a\n${block}`);
    const old = `${others}${block.replace('NO_COLOR=1', 'NO_COLOR=0')}5 5 * * * after\n`;
    expect(withBlock(old, block, input.root).text).toBe(`${others}${block}5 5 * * * after\n`);
  });

  it('uninstall removes only our block (another root\'s block stays)', () => {
    const otherRoot = buildBlock({ ...input, root: '/srv/other' });
    const text = `${others}${block}${otherRoot}`;
    expect(withoutBlock(text, input.root)).toEqual({ text: `${others}${otherRoot}`, removed: true });
    expect(withoutBlock(others, input.root)).toEqual({ text: others, removed: false });
    expect(withoutBlock(block, input.root)).toEqual({ text: '', removed: true });
  });

  it('an unterminated block is refused', () => {
    const broken = `${others}# BEGIN cortex (${input.root})\n* * * * * x\n`;
    expect(() => withBlock(broken, block, input.root)).toThrow(/without/);
    expect(() => withoutBlock(broken, input.root)).toThrow(expect.objectContaining({ hint: expect.stringMatching(/crontab -e/) }));
  });
});

describe('lintCrontab', () => {
  it('finds what crontab -n would refuse', () => {
    expect(lintCrontab('* * * * * x')).toEqual(['the last line must end with a newline']);
    expect(lintCrontab('61 * * *\n')).toEqual(['line 1: expected five time fields and a command']);
    expect(lintCrontab('*/5 1-3,7 * jan mon-fri cmd\n@daily x\nA=b\n# c\n\n')).toEqual([]);
    expect(lintCrontab('x * * * * cmd\n')).toEqual(['line 1: bad minute "x"']);
    expect(lintCrontab('* * * * mon,Tue cmd\n0 0 1 1-12/2 * cmd\n')).toEqual([]);
    expect(lintCrontab('*/x * * * * cmd\n@often x\n')).toEqual(['line 1: bad minute "*/x"', 'line 2: unknown @often']);
  });
});
