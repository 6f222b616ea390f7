import { runCli, type CliResult } from '../helpers/cli.js';

export { repoRoot } from '../helpers/cli.js';
export type CliRun = CliResult;

/** Runs `node bin/llmops.js …` as CI would (CI set: no spinners). */
export function llmops(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliRun> {
  return runCli(args, { ...options, timeoutMs: options.timeoutMs ?? 90_000, env: { CI: '1', ...options.env } });
}

/** The error lines on stderr (progress lines excluded): a usage error must be exactly one, without a stack. */
export function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('llmops: error:') || line.startsWith('error:') || /^\s+at /.test(line));
}
