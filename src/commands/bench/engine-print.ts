import type {
  EngineBenchResult,
  GenericConfigResult,
  LatencySummary,
  LlmConfigResult,
} from '../../bench/engine/types.js';
import { LATENCY_STATISTICS } from '../../bench/stats.js';
import { fmt, renderTable } from '../../ui/table.js';

/** The human view of an engine bench: a header of context lines, one table row per configuration, notes. */
export function renderEngineResult(result: EngineBenchResult, options: { color?: boolean } = {}): string {
  const hw = result.hardware;
  const lines = [
    `model ${result.model} · ${result.mode} · provider ${result.provider}${result.threads ? ` · ${result.threads} threads` : ''}${result.spinWait ? '' : ' (no spin-wait)'} · load ${result.loadMs === null ? '—' : `${fmt(result.loadMs, 0)} ms`}`,
    `${hw.cpu} (${hw.cores} cores, ${hw.memoryGb} GB)${hw.gpu ? ` · ${hw.gpu}` : ''}${hw.tensorrt ? ` · TensorRT ${hw.tensorrt}` : ''}${hw.onnxruntime && result.mode !== 'tensorrt' ? ` · onnxruntime ${hw.onnxruntime}` : ''}`,
  ];
  if (result.mode === 'llm') {
    lines.push(
      `kv cache ${result.kvCache}${result.kvCacheFallback ? ` (fallback: ${result.kvCacheFallback})` : ''}, ${result.presentsPerStep} presents built per step · logits of ${result.logitsPositions === 'last' ? 'the last position only' : 'every position'} · prefill ${result.prefillChunkTokens === null ? 'whole prompts' : `in chunks of ${result.prefillChunkTokens} tokens per row`}`,
    );
    const withGpu = result.results.some((row) => row.peakGpuMemoryMb !== undefined);
    const withCost = result.results.some((row) => row.costPerMillionTokens !== null);
    const head = [
      'batch',
      'prompt',
      'gen',
      'TTFT p50 ms',
      'TTFT p99 ms',
      'prefill steps',
      'prefill step p50 ms',
      'TPOT p50 ms',
      'TPOT p99 ms',
      'tok/s/seq',
      'tok/s total',
      'peak RSS MB',
    ];
    if (withGpu) head.push('GPU MB');
    if (withCost) head.push('$/1M tok');
    const rows = result.results.map((row) => {
      const cells: Array<string | number> = [
        row.batch,
        row.promptTokens,
        row.genTokens,
        fmt(row.ttftMs.p50, 2),
        fmt(row.ttftMs.p99, 2),
        row.prefillSteps,
        fmt(row.prefillStepMs.p50, 2),
        fmt(row.tpotMs.p50, 2),
        fmt(row.tpotMs.p99, 2),
        fmt(row.decodeTokensPerSecond, 1),
        fmt(row.throughputTokensPerSecond, 1),
        fmt(row.peakRssMb, 0),
      ];
      if (withGpu) cells.push(fmt(row.peakGpuMemoryMb, 0));
      if (withCost) cells.push(row.costPerMillionTokens === null ? '—' : formatCost(row.costPerMillionTokens));
      return cells;
    });
    lines.push(renderTable(head, rows, options));
    lines.push(
      ...warmupNotes(result.results),
      ...noiseNotes(result.results, (row) => `batch ${row.batch} × prompt ${row.promptTokens}`),
    );
  } else {
    const withGpu = result.results.some((row) => row.peakGpuMemoryMb !== undefined);
    const head = ['batch', 'shapes', 'p50 ms', 'p90 ms', 'p99 ms', 'mean ms', 'max ms', 'items/s', 'peak RSS MB'];
    if (withGpu) head.push('GPU MB');
    const rows = result.results.map((row) => {
      const cells: Array<string | number> = [
        row.batch,
        shapesText(row.shapes) || '(engine)',
        fmt(row.latencyMs.p50, 3),
        fmt(row.latencyMs.p90, 3),
        fmt(row.latencyMs.p99, 3),
        fmt(row.latencyMs.mean, 3),
        fmt(row.latencyMs.max, 3),
        fmt(row.throughputPerSecond, 1),
        fmt(row.peakRssMb, 0),
      ];
      if (withGpu) cells.push(fmt(row.peakGpuMemoryMb, 0));
      return cells;
    });
    lines.push(renderTable(head, rows, options));
    lines.push(...warmupNotes(result.results), ...noiseNotes(result.results, (row) => `batch ${row.batch}`));
  }
  return lines.join('\n');
}

function warmupNotes(rows: Array<LlmConfigResult | GenericConfigResult>): string[] {
  const warm = rows.filter((row) => row.warmup.iterations > 0);
  if (warm.length === 0) return ['no warm-up: the first iterations include one-time costs'];
  const iterations = [...new Set(warm.map((row) => row.warmup.iterations))].join('/');
  return [
    `warm-up excluded: ${iterations} iteration(s) per configuration (mean ${warm.map((row) => fmt(row.warmup.meanMs, 1)).join(', ')} ms)`,
  ];
}

function noiseNotes<Row extends LlmConfigResult | GenericConfigResult>(
  rows: Row[],
  label: (row: Row) => string,
): string[] {
  const noisy = rows.filter((row) => row.noisy.length > 0);
  if (noisy.length === 0) return [];
  return [
    `noise: wide spread (stddev > 10% of mean) in ${noisy.map((row) => `${label(row)} (${row.noisy.join(', ')})`).join('; ')}: run longer (--iterations/--duration) or on a quieter machine before trusting small differences`,
  ];
}

function shapesText(shapes: Record<string, number[]>): string {
  return Object.entries(shapes)
    .map(([name, dims]) => `${name}=${dims.join('x')}`)
    .join(' ');
}

function formatCost(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 1 ? value.toFixed(2) : value.toPrecision(3);
}

/** One CSV row per configuration; the columns depend only on the mode, so files of one mode concatenate. */
export function engineResultCsv(result: EngineBenchResult): string {
  const latencyColumns = (name: string, summary?: LatencySummary) =>
    LATENCY_STATISTICS.map((stat) => [`${name}_${stat}_ms`, summary?.[stat]] as const);
  const rows: Array<Array<readonly [string, CsvValue]>> =
    result.mode === 'llm'
      ? result.results.map((row) => [
          ...common(result),
          ['batch', row.batch],
          ['prompt_tokens', row.promptTokens],
          ['gen_tokens', row.genTokens],
          ['iterations', row.iterations],
          ...latencyColumns('ttft', row.ttftMs),
          ...latencyColumns('tpot', row.tpotMs),
          ...latencyColumns('e2e', row.e2eMs),
          ['prefill_chunk_tokens', result.prefillChunkTokens],
          ['prefill_steps', row.prefillSteps],
          ...latencyColumns('prefill_step', row.prefillStepMs),
          ['decode_tokens_per_second', row.decodeTokensPerSecond],
          ['throughput_tokens_per_second', row.throughputTokensPerSecond],
          ['peak_rss_mb', row.peakRssMb],
          ['peak_gpu_memory_mb', row.peakGpuMemoryMb],
          ['cost_per_million_tokens', row.costPerMillionTokens],
          ['warmup_iterations', row.warmup.iterations],
          ['kv_cache', result.kvCache],
          ['presents_per_step', result.presentsPerStep],
          ['logits_positions', result.logitsPositions],
        ])
      : result.results.map((row) => [
          ...common(result),
          ['batch', row.batch],
          ['shapes', shapesText(row.shapes)],
          ['iterations', row.iterations],
          ...latencyColumns('latency', row.latencyMs),
          ['throughput_per_second', row.throughputPerSecond],
          ['peak_rss_mb', row.peakRssMb],
          ['peak_gpu_memory_mb', row.peakGpuMemoryMb],
          ['warmup_iterations', row.warmup.iterations],
        ]);
  if (rows.length === 0) return '';
  const header = rows[0]!.map(([name]) => name);
  return [header.join(','), ...rows.map((row) => row.map(([, value]) => csvCell(value)).join(','))].join('\n') + '\n';
}

function common(result: EngineBenchResult): Array<readonly [string, CsvValue]> {
  return [
    ['model', result.model],
    ['mode', result.mode],
    ['provider', result.provider],
    ['threads', result.threads],
    ['spin_wait', result.spinWait],
    ['load_ms', result.loadMs],
  ];
}

type CsvValue = string | number | boolean | null | undefined;

function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
