import type * as Ort from 'onnxruntime-node';
import { Recorder } from '../stats.js';
import { resolveInputSpecs, synthesizeFeeds } from './inputs.js';
import { describe, round, RssSampler, runIterations } from './measure.js';
import type { EngineBenchOptions, GenericConfigResult } from './types.js';

export interface GenericBenchPlan {
  /** Batch sizes for a leading symbolic dimension; `[undefined]` when the user set none. */
  batches: Array<number | undefined>;
  shapes: Record<string, number | number[]>;
  warmup: number;
  iterations?: number;
  durationMs?: number;
}

/**
 * Measures `session.run` on synthesized inputs: one configuration per batch size. Only the run is timed; inputs are
 * built once per configuration, as a serving loop would reuse its buffers.
 */
export async function benchGenericSession(
  ort: typeof Ort,
  session: Ort.InferenceSession,
  plan: GenericBenchPlan,
  shownPath: string,
  hooks: Pick<EngineBenchOptions, 'signal' | 'onProgress'> = {},
): Promise<GenericConfigResult[]> {
  const results: GenericConfigResult[] = [];
  for (const batch of plan.batches) {
    const specs = resolveInputSpecs(session.inputMetadata, plan.shapes, batch, shownPath);
    const feeds = synthesizeFeeds(ort, specs);
    const shapes = Object.fromEntries(
      specs.map((spec): [string, number[]] => [spec.name, spec.dims]).sort(([a], [b]) => a.localeCompare(b)),
    );
    const leading = specs[0]?.dims[0] ?? 1;
    const label = `shapes ${specs.map((spec) => `${spec.name}=${spec.dims.join('x')}`).join(',')}`;

    const latency = new Recorder();
    const warmupTimes: number[] = [];
    const rss = new RssSampler().start();
    const { iterations, wallMs } = await runIterations(
      plan,
      async (measured) => {
        const start = performance.now();
        const outputs = await session.run(feeds);
        const elapsed = performance.now() - start;
        for (const output of Object.values(outputs)) output.dispose?.();
        if (measured) latency.record(elapsed);
        else warmupTimes.push(elapsed);
        rss.sample();
      },
      {
        signal: hooks.signal,
        onIteration: (phase, done, total) => hooks.onProgress?.({ phase, config: label, done, total }),
      },
    );
    const peakRssMb = rss.stop();
    const described = describe(latency);
    results.push({
      batch: leading,
      shapes,
      iterations,
      latencyMs: described.latency,
      throughputPerSecond: round((leading * iterations) / (wallMs / 1000), 2),
      peakRssMb,
      warmup: { iterations: warmupTimes.length, meanMs: round(mean(warmupTimes)) },
      stats: { latencyMs: described.stats },
      noisy: described.noisy ? ['latencyMs'] : [],
    });
    hooks.onProgress?.({ phase: 'config-done', config: label });
  }
  return results;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((sum, value) => sum + value, 0) / values.length;
}
