import { describe, expect, it } from 'vitest';
import { trimNewlines } from '../../../../src/contractors/generic/execute-command.js';
import { debugEntry } from '../../../../src/engine/run-workflow.js';

describe('execute_command output trim (as $(…))', () => {
  it('removes every trailing newline, \\n or \\r\\n, and nothing else', () => {
    expect(trimNewlines('vm\n')).toBe('vm');
    expect(trimNewlines('vm\n\n\n')).toBe('vm');
    expect(trimNewlines('vm\r\n\r\n')).toBe('vm');
    expect(trimNewlines('a\nb\n')).toBe('a\nb');
    expect(trimNewlines('  vm  \n')).toBe('  vm  ');
    expect(trimNewlines('\n')).toBe('');
    expect(trimNewlines('')).toBe('');
  });
});

describe('debug.log entries', () => {
  it('prefix every line with time, execution and action; continuation lines with " | "', () => {
    expect(debugEntry('T ex p/a#1', 'exit 0\nstdout: vm\nsecond\n')).toBe('T ex p/a#1 exit 0\nT ex p/a#1 | stdout: vm\nT ex p/a#1 | second\n');
    expect(debugEntry('T ex p/a#1', 'one line')).toBe('T ex p/a#1 one line\n');
  });
});
