/**
 * Arguments quoted for the remote shell come back from a real POSIX shell exactly as given: ssh
 * joins the words with spaces and `sh -c` re-parses the line, as on the Proxmox node.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isThroughSsh, shellQuote, toolCommandLine } from '../../../src/model/remote-shell.js';
import { probeScript } from '../../../src/contractors/infrastructure/verify-load-balancer-health.js';

const TRICKY = [
  'cortex;monitoring;production',
  'Monitoring node (Prometheus) for deploy-monitoring-stack',
  '10.10.0.53 10.10.0.54',
  "it's a 'quoted' \"word\"",
  'a\\b',
  '$HOME $(id) `id` ${x}',
  '*.* ? [ab]',
  '~root ~/x',
  '#not a comment',
  '&& || | & < > >> 2>&1',
  '{a,b}',
  '',
  ' ',
  'tab\there',
  'line1\nline2\n',
  'ip=10.10.1.10/24,gw=10.10.1.1',
  '--output-format',
  'üñíçødé',
  probeScript(['http://10.10.1.21:8080/health', "http://[fd00::1]:80/a'b"], 5),
];

/** What `ssh host printf ...` prints: the words as the remote shell parsed them. */
function throughShell(words: string[]): string[] {
  const line = ["printf '%s\\0'", ...words.map(shellQuote)].join(' ');
  const out = execFileSync('sh', ['-c', line], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('quoting for the remote shell', () => {
  it('every word survives the re-parse by sh unchanged', () => {
    expect(throughShell(TRICKY)).toEqual(TRICKY);
  });

  it('leaves plain words readable', () => {
    expect(['get', '/cluster/nextid', '--output-format', 'json', 'root@pve01', 'k8s10', '4'].map(shellQuote)).toEqual(['get', '/cluster/nextid', '--output-format', 'json', 'root@pve01', 'k8s10', '4']);
    expect(shellQuote('a;b')).toBe("'a;b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it('quotes only what cortex appends, and only through ssh', () => {
    expect(isThroughSsh(['ssh', 'root@pve01', 'pvesh'])).toBe(true);
    expect(isThroughSsh(['/usr/bin/ssh', '-p', '2222', 'root@pve01', 'pvesh'])).toBe(true);
    expect(isThroughSsh(['pvesh'])).toBe(false);
    expect(isThroughSsh(['/opt/sshd-tools/pvesh'])).toBe(false);
    expect(toolCommandLine(['ssh', '-o', 'BatchMode=yes', 'root@pve01', 'pvesh'], ['set', '/x', '--tags', 'a;b'])).toEqual(['ssh', '-o', 'BatchMode=yes', 'root@pve01', 'pvesh', 'set', '/x', '--tags', "'a;b'"]);
    expect(toolCommandLine(['pvesh'], ['set', '/x', '--tags', 'a;b'])).toEqual(['pvesh', 'set', '/x', '--tags', 'a;b']);
  });
});
