import { Command, Option } from 'commander';
import { action } from '../context.js';

export interface ScaffoldCommandOptions {
  template?: string;
  model?: string;
  revision?: string;
  name?: string;
  force?: boolean;
  list?: boolean;
}

const TEMPLATES = ['node', 'fastapi', 'vllm', 'tgi', 'trtllm', 'triton'];

export function scaffoldCommand(): Command {
  return new Command('scaffold')
    .description('create a serving project from a template (node, fastapi, vllm, tgi, trtllm, triton)')
    .argument('[dir]', 'directory of the new project')
    .addOption(new Option('-t, --template <name>', 'project template').choices(TEMPLATES).default('node'))
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
      action<ScaffoldCommandOptions, [string | undefined]>(async (ctx, options, dir) => {
        const { runScaffold } = await import('./run.js');
        await runScaffold(ctx, options, dir);
      }),
    );
}
