import { Command } from 'commander';
import { action } from '../context.js';

export function configCommand(): Command {
  return new Command('config')
    .description('print the effective configuration (llmops.yaml + environment + defaults), secrets redacted')
    .addHelpText('after', '\nExamples:\n  $ llmops config\n  $ llmops --config deploy/llmops.yaml config --json\n')
    .action(
      action(async (ctx) => {
        const { runConfig } = await import('./action.js');
        await runConfig(ctx);
      }),
    );
}
