import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Root of the installed cortex package (holds schemas/, coordination/, dist/). Read-only at run time. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCHEMAS_DIR = join(PACKAGE_ROOT, 'schemas');
/** The embedded default coordination directory with the built-in workflows. */
export const EMBEDDED_ROOT = join(PACKAGE_ROOT, 'coordination');
