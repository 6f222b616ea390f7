/** Exit codes shared by every command (see README "Exit codes"). */
export const ExitCode = {
  Ok: 0,
  /** The operation failed: an external tool failed, a build broke, a server refused. */
  Failed: 1,
  /** Usage or invalid input: unknown flag, bad config, missing or corrupt model, existing output without --force. */
  Usage: 2,
  /** A check failed: bench gate, SLO, lint. */
  CheckFailed: 3,
  Interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface LlmopsErrorOptions {
  exitCode?: ExitCode;
  /** What the user can do about it, printed after the message. */
  hint?: string;
  cause?: unknown;
  /** Extra machine-readable fields for --json output. */
  details?: Record<string, unknown>;
}

/**
 * The one error type the CLI maps to an exit code. `code` is a stable identifier
 * (e.g. `MODEL_NOT_FOUND`) for programs; `message` is one line for humans.
 */
export class LlmopsError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, code: string, options: LlmopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LlmopsError';
    this.code = code;
    this.exitCode = options.exitCode ?? ExitCode.Failed;
    this.hint = options.hint;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      exitCode: this.exitCode,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

/** Invalid input from the user: exit code 2. */
export function usageError(
  message: string,
  code = 'INVALID_INPUT',
  options: Omit<LlmopsErrorOptions, 'exitCode'> = {},
): LlmopsError {
  return new LlmopsError(message, code, { ...options, exitCode: ExitCode.Usage });
}

/** A failed check (gate, SLO, lint): exit code 3. */
export function checkFailed(
  message: string,
  code = 'CHECK_FAILED',
  options: Omit<LlmopsErrorOptions, 'exitCode'> = {},
): LlmopsError {
  return new LlmopsError(message, code, { ...options, exitCode: ExitCode.CheckFailed });
}

/**
 * A verdict on a result the command has already printed: a failed bench gate or SLO, a client self-test out of bounds
 * (exit 3), a run interrupted after its partial results were saved (exit 130). The CLI prints each reason on stderr
 * (`llmops: error: …`, or `llmops: interrupted: …`) and no error document, so `--json` still prints exactly one JSON
 * document: the result, verdict included.
 */
export class VerdictError extends LlmopsError {
  /** One line each, in the order found; none for an interrupt with nothing to add. */
  readonly reasons: readonly string[];

  constructor(
    reasons: readonly string[],
    code: string,
    exitCode: typeof ExitCode.CheckFailed | typeof ExitCode.Interrupted,
  ) {
    super(reasons.join('; ') || code.toLowerCase(), code, { exitCode });
    this.name = 'VerdictError';
    this.reasons = reasons;
  }
}

/** Thrown when the user interrupts (SIGINT): exit code 130. */
export class InterruptedError extends LlmopsError {
  constructor(message = 'interrupted') {
    super(message, 'INTERRUPTED', { exitCode: ExitCode.Interrupted });
  }
}

export function isLlmopsError(error: unknown): error is LlmopsError {
  return error instanceof LlmopsError;
}
