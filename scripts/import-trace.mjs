// Loaded with `node --import ./scripts/import-trace.mjs …`: prints every bare package specifier the program
// resolves (to stderr, prefixed) so tests and the startup benchmark can check what a command loads.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (!specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('node:') && !specifier.startsWith('file:') && !specifier.startsWith('data:')) {
    process.stderr.write('[import] ' + specifier + '\\n');
  }
  return next(specifier, context);
}`),
);
