// Removes compiled tests before a build so a deleted or renamed test file never runs from a stale dist/.
import { rmSync } from 'node:fs';

rmSync(new URL('../dist/test', import.meta.url), { recursive: true, force: true });
