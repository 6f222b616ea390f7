import type { Command } from 'commander';
import type { LoadedConfig } from '../config/index.js';
import { Output } from '../ui/output.js';

/** What every command action receives: the output channel, the config (loaded on demand) and a cancel signal. */
export interface CommandContext {
  output: Output;
  /** Resolves llmops.yaml (or --config) with the environment overlaid; cached per run. */
  config(): Promise<LoadedConfig>;
  /** Aborted on Ctrl-C: long operations stop, clean up, and throw InterruptedError. */
  signal: AbortSignal;
}

export interface GlobalOptions {
  json?: boolean;
  config?: string;
  verbose?: boolean;
  quiet?: boolean;
  color?: boolean;
}

/** Aborted by the CLI's SIGINT handler. */
export const interruption = new AbortController();

export function createContext(command: Command): CommandContext {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const output = new Output({
    json: Boolean(globals.json),
    quiet: Boolean(globals.quiet),
    verbose: Boolean(globals.verbose),
    color: globals.color !== false && !process.env.NO_COLOR && Boolean(process.stdout.isTTY),
  });
  let loaded: Promise<LoadedConfig> | undefined;
  return {
    output,
    signal: interruption.signal,
    // The config stack (yaml, zod) loads only when a command asks for it, keeping --help and --version fast.
    config: () =>
      (loaded ??= import('../config/index.js').then(({ loadConfig }) =>
        loadConfig(globals.config === undefined ? {} : { configPath: globals.config }),
      )),
  };
}

/**
 * Wraps a command action: builds the context, passes the parsed options and positional arguments.
 * Command files call this so that the action body is only "parse → run → render".
 */
export function action<Options, Args extends unknown[] = []>(
  body: (ctx: CommandContext, options: Options, ...args: Args) => Promise<void>,
): (...commanderArgs: unknown[]) => Promise<void> {
  return async (...commanderArgs: unknown[]) => {
    const command = commanderArgs[commanderArgs.length - 1] as Command;
    const options = commanderArgs[commanderArgs.length - 2] as Options;
    const args = commanderArgs.slice(0, -2) as Args;
    await body(createContext(command), options, ...args);
  };
}
