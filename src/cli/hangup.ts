import { closeSync } from 'node:fs';
import { isatty } from 'node:tty';

/**
 * Lets cortex exit with its own exit code after its terminal was closed. At exit Node restores the
 * terminal modes of its stdio and aborts (exit 134, "Assertion failed ... ResetStdio") when that
 * fails, as it does with EIO on a hung-up terminal (nodejs/node#51519, fixed upstream by #58200,
 * not in Node 20). Node skips a descriptor that was closed, so the stdio descriptors that were
 * terminals at start and are not any more are closed at exit, when nothing can reuse them.
 */
export function closeHungUpTerminalsAtExit(): void {
  const terminals = [0, 1, 2].filter((fd) => isatty(fd));
  if (!terminals.length) return;
  process.on('exit', () => {
    for (const fd of terminals) {
      if (isatty(fd)) continue;
      try {
        closeSync(fd);
      } catch {
        // Already closed: nothing for Node to restore either.
      }
    }
  });
}
