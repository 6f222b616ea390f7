import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { InterruptedError, LlmopsError } from '../errors.js';

/**
 * An external command as data: what would run, with which arguments and which environment variables passed
 * through by name. Built by pure functions (testable without the tool), printed by --dry-run, run by runPlan.
 */
export interface CommandPlan {
  /** Step name shown to users, e.g. `optimum-export`. */
  name: string;
  /** Executable, looked up on PATH. */
  file: string;
  argv: string[];
  /** Non-secret variables set for the child. */
  env?: Record<string, string>;
  cwd?: string;
}

export interface RunPlanOptions {
  signal?: AbortSignal;
  /** Called with each chunk of the child's stderr (progress for --verbose). */
  onStderr?: (chunk: string) => void;
  onStdout?: (chunk: string) => void;
  /** Called when the signal aborts, before the child is killed (e.g. `docker rm -f`). */
  onAbort?: () => Promise<void> | void;
  timeoutMs?: number;
}

export interface RunPlanResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

const STDERR_TAIL_LINES = 5;

/** Runs a plan with execa (argv array, never a shell). Failures become one-line LlmopsErrors with the stderr tail. */
export async function runPlan(plan: CommandPlan, options: RunPlanOptions = {}): Promise<RunPlanResult> {
  const { execa } = await import('execa');
  if (options.signal?.aborted) throw new InterruptedError();
  const child = execa(plan.file, plan.argv, {
    cwd: plan.cwd,
    env: plan.env,
    reject: false,
    stdin: 'ignore',
    timeout: options.timeoutMs,
    // We stop the child ourselves on abort so that cleanup (onAbort) runs first.
    cleanup: true,
  });
  child.stderr?.on('data', (chunk: Buffer) => options.onStderr?.(chunk.toString()));
  child.stdout?.on('data', (chunk: Buffer) => options.onStdout?.(chunk.toString()));

  // EventTarget drops a listener's promise: a failing cleanup must not become an unhandled rejection (which ends the
  // process), and the child is killed whether or not the cleanup succeeded.
  const onAbort = () => {
    void Promise.resolve()
      .then(() => options.onAbort?.())
      .catch(() => undefined)
      .then(() => child.kill('SIGTERM'));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await child;
    if (options.signal?.aborted) throw new InterruptedError(`${plan.name} interrupted`);
    const stdout = String(result.stdout ?? '');
    const stderr = String(result.stderr ?? '');
    if (result.failed) {
      const code = (result as { code?: string }).code;
      if (code === 'ENOENT') {
        throw new LlmopsError(`\`${plan.file}\` was not found on PATH`, 'TOOL_NOT_FOUND', {
          hint: `install ${plan.file} or put it on PATH`,
          details: { step: plan.name },
        });
      }
      if (result.timedOut)
        throw new LlmopsError(`${plan.name}: \`${plan.file}\` timed out after ${options.timeoutMs} ms`, 'TOOL_TIMEOUT');
      throw new ToolFailedError(plan, result.exitCode ?? -1, stderr || stdout);
    }
    return { stdout, stderr, exitCode: result.exitCode ?? 0 };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/** An external tool exited non-zero. The message carries the last lines of its output, which is what a user acts on. */
export class ToolFailedError extends LlmopsError {
  readonly stderr: string;
  constructor(plan: CommandPlan, exitCode: number, output: string, message?: string) {
    const tail = lastLines(output, STDERR_TAIL_LINES);
    super(
      message ??
        `${plan.name}: \`${plan.file}\` exited with code ${exitCode}${tail ? `: ${tail.replace(/\n/g, ' | ')}` : ''}`,
      'TOOL_FAILED',
      {
        details: { step: plan.name, exitCode },
      },
    );
    this.stderr = output;
  }
}

export function lastLines(text: string, count: number): string {
  return text.trim().split('\n').filter(Boolean).slice(-count).join('\n').trim();
}

/** The first executable named `file` on PATH, or null. */
export async function which(file: string, envPath = process.env.PATH ?? ''): Promise<string | null> {
  for (const dir of envPath.split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, file);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/** The plan as a user would paste it into a POSIX shell. */
export function formatPlan(plan: CommandPlan): string {
  const env = Object.entries(plan.env ?? {}).map(([key, value]) => `${key}=${shellQuote(value)}`);
  return [...env, shellQuote(plan.file), ...plan.argv.map(shellQuote)].join(' ');
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-+=/.,:@%^]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
