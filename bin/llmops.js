#!/usr/bin/env node
// Kept tiny so that `llmops --version` starts fast: everything heavy is imported lazily by the commands.
import { main } from '../dist/src/cli.js';

main(process.argv);
