import { Command, Option } from 'commander';
import type { ScaffoldOptions } from '../../scaffold/scaffold.js';
import { TEMPLATE_NAMES, type TemplateName } from '../../scaffold/templates.js';
import { action } from '../context.js';

/** The scaffold flags: the library's options of the same names (the directory is the argument), and `--list`. */
export type ScaffoldFlags = Partial<Pick<ScaffoldOptions, 'model' | 'revision' | 'name' | 'force'>> & {
  template?: TemplateName;
  list?: boolean;
};

export function scaffoldCommand(): Command {
  return new Command('scaffold')
    .description(`create a serving project from a template (${TEMPLATE_NAMES.join(', ')})`)
    .argument('[dir]', 'directory of the new project')
    .addOption(new Option('-t, --template <name>', 'project template').choices(TEMPLATE_NAMES).default('node'))
    .option(
      '-m, --model <path|id>',
      'model directory, llmops artifact or Hub id (default: the embedded tiny model; vllm, tgi and trtllm need a checkpoint)',
    )
    .option('--revision <rev>', 'Hub revision recorded with a Hub id')
    .option('--name <name>', 'service name, a DNS-1123 label (default: the directory name)')
    .option('-f, --force', 'write into a non-empty directory (files of the same name are replaced; .git is kept)')
    .option('--list', 'list the templates')
    .addHelpText(
      'after',
      '\nExamples:\n  $ llmops scaffold my-server\n  $ llmops scaffold svc --template vllm --model Qwen/Qwen2.5-0.5B-Instruct\n  $ llmops scaffold repo --template triton --model artifacts/tiny-ort --json\n  $ llmops scaffold --list\n',
    )
    .action(
      action<ScaffoldFlags, [string | undefined]>(async (ctx, options, dir) => {
        const { runScaffold } = await import('./action.js');
        await runScaffold(ctx, options, dir);
      }),
    );
}
