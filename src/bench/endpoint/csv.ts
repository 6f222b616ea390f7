import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { LlmopsError, usageError } from '../../errors.js';
import { temporaryBeside } from '../../fs/atomic.js';
import { Recorder } from '../stats.js';
import { round } from './accumulator.js';
import { requestRates } from './slo.js';
import { describeLoad } from './saturation.js';
import type { EndpointBenchResult, RequestSample } from './types.js';

/** Locust's `--csv` stats columns, so spreadsheets and scripts written for Locust read ours. */
const LOCUST_HEADER = [
  'Type',
  'Name',
  'Request Count',
  'Failure Count',
  'Median Response Time',
  'Average Response Time',
  'Min Response Time',
  'Max Response Time',
  'Average Content Size',
  'Requests/s',
  'Failures/s',
  '50%',
  '66%',
  '75%',
  '80%',
  '90%',
  '95%',
  '98%',
  '99%',
  '99.9%',
  '99.99%',
  '100%',
];
const LOCUST_PERCENTILES = [50, 66, 75, 80, 90, 95, 98, 99, 99.9, 99.99, 100];

function csvLine(cells: Array<string | number | null>): string {
  return `${cells.map((cell) => (cell === null ? '' : /[",\n]/.test(String(cell)) ? `"${String(cell).replace(/"/g, '""')}"` : String(cell))).join(',')}\n`;
}

/**
 * `PREFIX_stats.csv`: per step, a `POST` row (end-to-end latency, as Locust reports requests) and `TTFT` / `ITL` rows
 * (what the book's locustfile records as extra request types), then an `Aggregated` row over all steps. Times in ms;
 * "Average Content Size" is the mean number of output tokens (Locust's is bytes).
 */
export function locustStatsCsv(result: EndpointBenchResult): string {
  let text = csvLine(LOCUST_HEADER);
  const name = (label: string) => `${new URL(result.target).pathname} ${label}`;
  const all = new Recorder();
  let requests = 0;
  let failures = 0;
  let tokens = 0;
  let seconds = 0;
  for (const run of result.runs) {
    const label = describeLoad(run);
    const latency = Recorder.decode(run.latencyMs.histogram);
    all.merge(latency);
    requests += run.requests;
    failures += run.errors;
    tokens += run.outputTokens;
    seconds += run.durationS;
    const ok = run.requests - run.errors;
    const perSecond = (n: number) => (run.durationS > 0 ? round(n / run.durationS) : 0);
    text += row(
      'POST',
      name(label),
      run.requests,
      run.errors,
      latency,
      ok > 0 ? round(run.outputTokens / ok) : 0,
      run.requestsPerSecond,
      perSecond(run.errors),
    );
    text += row(
      'TTFT',
      name(label),
      run.ttftMs.count,
      0,
      Recorder.decode(run.ttftMs.histogram),
      0,
      perSecond(run.ttftMs.count),
      0,
    );
    text += row(
      'ITL',
      name(label),
      run.itlMs.count,
      0,
      Recorder.decode(run.itlMs.histogram),
      0,
      perSecond(run.itlMs.count),
      0,
    );
  }
  const ok = requests - failures;
  text += row(
    '',
    'Aggregated',
    requests,
    failures,
    all,
    ok > 0 ? round(tokens / ok) : 0,
    seconds > 0 ? round(requests / seconds) : 0,
    seconds > 0 ? round(failures / seconds) : 0,
  );
  return text;
}

function row(
  type: string,
  name: string,
  count: number,
  failures: number,
  recorder: Recorder,
  contentSize: number,
  rps: number,
  fps: number,
): string {
  const summary = recorder.summary();
  return csvLine([
    type,
    name,
    count,
    failures,
    recorder.percentile(50),
    summary.mean,
    summary.min,
    summary.max,
    contentSize,
    rps,
    fps,
    ...LOCUST_PERCENTILES.map((p) => recorder.percentile(p)),
  ]);
}

export const REQUESTS_CSV_HEADER = [
  'step',
  'start_s',
  'status',
  'ok',
  'error',
  'ttft_ms',
  'latency_ms',
  'output_tokens',
  'token_source',
  'mean_itl_ms',
  'tps',
  'schedule_lag_ms',
  'usage_tokens',
  'tokenizer_tokens',
  'stream_events',
];

/**
 * `PREFIX_requests.csv`, one row per measured request, streamed to disk as requests finish so memory does not grow
 * with the run; written beside its final name and renamed into place by `close()`.
 */
export class RequestsCsvWriter {
  /** A write error (disk full, say) is kept and reported by close(), not thrown from an event handler. */
  private failure: Error | undefined;

  private constructor(
    private readonly file: string,
    private readonly temporary: string,
    private readonly stream: WriteStream,
    /** performance.now() that start_s counts from. */
    private readonly originMs: number,
  ) {
    stream.on('error', (error) => (this.failure ??= error));
    stream.write(csvLine(REQUESTS_CSV_HEADER));
  }

  /** Creates the file's directory and opens the temporary file; one clear error when that is not possible. */
  static async open(file: string, originMs: number): Promise<RequestsCsvWriter> {
    const target = path.resolve(file);
    const temporary = temporaryBeside(target);
    try {
      await mkdir(path.dirname(target), { recursive: true });
      const stream = createWriteStream(temporary);
      await once(stream, 'open');
      return new RequestsCsvWriter(target, temporary, stream, originMs);
    } catch (error) {
      // The path the user gave cannot hold a file (a parent is a file, no permission): bad input, exit 2.
      throw usageError(
        `cannot write --csv ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        'OUTPUT_UNWRITABLE',
      );
    }
  }

  add(sample: RequestSample, step: string): void {
    const { meanItlMs, tps } = requestRates(sample);
    const r = (value: number | null) => (value === null ? null : round(value));
    this.stream.write(
      csvLine([
        step,
        r((sample.startMs - this.originMs) / 1000),
        sample.status,
        sample.ok ? 1 : 0,
        sample.error ?? '',
        r(sample.ttftMs),
        r(sample.endMs - sample.startMs),
        sample.outputTokens,
        sample.tokenSource,
        r(meanItlMs),
        r(tps),
        r(sample.startMs - sample.scheduledMs),
        sample.tokenCounts?.usage ?? null,
        sample.tokenCounts?.tokenizer ?? null,
        sample.tokenCounts?.events ?? null,
      ]),
    );
  }

  async close(keep: boolean): Promise<void> {
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    if (keep && !this.failure) return rename(this.temporary, this.file);
    await rm(this.temporary, { force: true });
    if (keep)
      throw new LlmopsError(
        `cannot write --csv ${this.file}: ${(this.failure as NodeJS.ErrnoException).code ?? this.failure!.message}`,
        'OUTPUT_UNWRITABLE',
      );
  }
}
