import { Command } from 'commander';
import { action } from '../context.js';

export function configCommand(): Command {
  return new Command('config')
    .description('print the effective configuration (llmops.yaml + environment + defaults), secrets redacted')
    .addHelpText('after', '\nExamples:\n  $ llmops config\n  $ llmops --config deploy/llmops.yaml config --json\n')
    .action(
      action(async (ctx) => {
        const { redactSecrets } = await import('../../config/index.js');
        const { stringify } = await import('yaml');
        const loaded = await ctx.config();
        const effective = redactSecrets(loaded.config);
        ctx.output.result({ file: loaded.file, fromEnv: loaded.fromEnv, config: effective }, () => {
          const source = loaded.file ? `# from ${loaded.file}` : '# no llmops.yaml found: defaults';
          const env = Object.entries(loaded.fromEnv).map(([key, name]) => `# ${key} ← $${name}`);
          return [source, ...env, stringify(effective, { lineWidth: 0 })].join('\n');
        });
      }),
    );
}
