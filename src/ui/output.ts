import type { Writable } from 'node:stream';

/** Global output flags, shared by every command. */
export interface OutputOptions {
  /** Print exactly one JSON document on stdout. */
  json: boolean;
  /** Suppress progress and informational messages on stderr. */
  quiet: boolean;
  /** Debug messages and stack traces. */
  verbose: boolean;
  /** ANSI colours on stderr/stdout (off with --no-color or NO_COLOR). */
  color: boolean;
}

export interface Spinner {
  update(text: string): void;
  succeed(text?: string): void;
  fail(text?: string): void;
  stop(): void;
}

const ANSI = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
export type Style = keyof typeof ANSI;

/**
 * Where a command's words go: results to stdout, everything else to stderr.
 * Commands never touch process.stdout directly, so tests can capture both streams.
 */
export class Output {
  readonly options: OutputOptions;
  readonly stdout: Writable & { isTTY?: boolean };
  readonly stderr: Writable & { isTTY?: boolean };

  constructor(options: Partial<OutputOptions> = {}, streams: { stdout?: Writable; stderr?: Writable } = {}) {
    this.options = { json: false, quiet: false, verbose: false, color: false, ...options };
    this.stdout = streams.stdout ?? process.stdout;
    this.stderr = streams.stderr ?? process.stderr;
  }

  get json(): boolean {
    return this.options.json;
  }

  /** Whether live progress (spinners, redrawn lines) belongs on stderr. */
  get interactive(): boolean {
    return Boolean(this.stderr.isTTY) && !process.env.CI && !this.options.quiet;
  }

  style(style: Style, text: string): string {
    if (!this.options.color) return text;
    const [open, close] = ANSI[style];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }

  /** The command's result: one JSON document with --json, the rendered text otherwise. */
  result(data: unknown, render: () => string): void {
    if (this.options.json) this.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else {
      const text = render();
      if (text) this.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    }
  }

  /** Raw text on stdout (streamed tokens). Ignored in --json mode, where only the final document is printed. */
  write(text: string): void {
    if (!this.options.json) this.stdout.write(text);
  }

  info(message: string): void {
    if (!this.options.quiet) this.stderr.write(`${message}\n`);
  }

  warn(message: string): void {
    this.stderr.write(`${this.style('yellow', 'warning:')} ${message}\n`);
  }

  debug(message: string): void {
    if (this.options.verbose) this.stderr.write(`${this.style('dim', message)}\n`);
  }

  /** A spinner on a TTY (ora, loaded lazily); plain progress lines elsewhere, none with --quiet. */
  async spinner(text: string): Promise<Spinner> {
    if (this.interactive) {
      const { default: ora } = await import('ora');
      const spin = ora({ text, stream: this.stderr, color: 'cyan', isEnabled: true }).start();
      return {
        update: (t) => void (spin.text = t),
        succeed: (t) => void spin.succeed(t),
        fail: (t) => void spin.fail(t),
        stop: () => void spin.stop(),
      };
    }
    this.info(text);
    return {
      update: () => undefined,
      succeed: (t) => t && this.info(t),
      fail: (t) => t && this.info(t),
      stop: () => undefined,
    };
  }
}
