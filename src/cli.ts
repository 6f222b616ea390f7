import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { ExitCode, InterruptedError, isLlmopsError, VerdictError } from './errors.js';
import { interruption } from './commands/context.js';
import { configCommand } from './commands/config/command.js';
import { benchCommand } from './commands/bench/command.js';
import { generateCommand } from './commands/generate/command.js';
import { compileCommand } from './commands/compile/command.js';
import { scaffoldCommand } from './commands/scaffold/command.js';
import { deployCommand } from './commands/deploy/command.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

/** The commander program. Command files define options only; their actions import the heavy library code lazily. */
export function buildProgram(): Command {
  const program = new Command('llmops')
    .description(
      'Compile, benchmark, serve and deploy language models: from a Hugging Face checkpoint to an autoscaled Kubernetes service.',
    )
    .version(version, '-V, --version', 'print the llmops version')
    .option('--json', 'print exactly one JSON document on stdout')
    .option('-c, --config <file>', 'config file (default: ./llmops.yaml when present)')
    .option('-v, --verbose', 'debug output and stack traces on errors')
    .option('-q, --quiet', 'no progress or informational messages on stderr')
    .addOption(new Option('--no-color', 'no ANSI colours (also NO_COLOR=1)'))
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addHelpText(
      'after',
      '\nExit codes: 0 ok, 1 operation failed, 2 usage or invalid input, 3 a check failed, 130 interrupted.\n' +
        '\nExamples:\n  $ llmops generate --prompt "Once upon a time"\n  $ llmops config --json\n',
    );

  for (const command of [
    generateCommand(),
    compileCommand(),
    benchCommand(),
    scaffoldCommand(),
    deployCommand(),
    configCommand(),
  ])
    program.addCommand(command);
  return program;
}

/** Runs the CLI and exits with the code of the outcome. Only this function maps errors to exit codes. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  for (const command of [program, ...program.commands]) command.exitOverride();
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const json = argv.includes('--json');

  // `llmops … | head` closes stdout early: that is the reader's choice, not an error worth a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? ExitCode.Ok);
      throw error;
    });
  }

  let interrupts = 0;
  process.on('SIGINT', () => {
    interrupts += 1;
    // First Ctrl-C: let the running command clean up (stop containers, save partial results). Second: leave now.
    if (interrupts === 1) interruption.abort(new InterruptedError());
    else process.exit(ExitCode.Interrupted);
  });

  try {
    await program.parseAsync(argv);
    process.exitCode = ExitCode.Ok;
  } catch (error) {
    process.exitCode = reportError(error, { verbose, json });
  }
}

function reportError(error: unknown, options: { verbose: boolean; json: boolean }): number {
  if (error instanceof CommanderError) {
    // commander already printed its one-line message (or the help / version text).
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    )
      return ExitCode.Ok;
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  // The result document is out already: only the reasons remain to say, so --json stays one document.
  if (error instanceof VerdictError) {
    const label = error.exitCode === ExitCode.Interrupted ? 'interrupted' : 'error';
    for (const reason of error.reasons) process.stderr.write(`llmops: ${label}: ${reason}\n`);
    return error.exitCode;
  }
  if (interruption.signal.aborted && !isLlmopsError(error)) error = interruption.signal.reason;
  const exitCode = isLlmopsError(error) ? error.exitCode : ExitCode.Failed;
  const message = error instanceof Error ? error.message : String(error);
  const hint = isLlmopsError(error) && error.hint ? ` (${error.hint})` : '';
  process.stderr.write(`llmops: error: ${message}${hint}\n`);
  if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  if (options.json) {
    const body = isLlmopsError(error) ? error.toJSON() : { code: 'INTERNAL', message, exitCode };
    process.stdout.write(`${JSON.stringify({ error: body }, null, 2)}\n`);
  }
  return exitCode;
}
