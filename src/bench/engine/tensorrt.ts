import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LlmopsError, usageError } from '../../errors.js';
import { runContainer } from '../../proc/docker.js';
import { ToolFailedError } from '../../proc/exec.js';
import {
  parseDeserializeMs,
  parseExportTimes,
  parseTensorrtGpuMemoryMb,
  parseTensorrtVersion,
  parseVersionMismatch,
  TIMES_FILE,
  trtexecBenchSpec,
  trtexecVersionSpec,
} from '../../proc/trtexec.js';
import { Recorder } from '../stats.js';
import { describe, round, throwIfAborted } from './measure.js';
import { mean } from './generic.js';
import type { EngineBenchOptions, GenericConfigResult } from './types.js';

export interface PlanBenchOutcome {
  results: GenericConfigResult[];
  loadMs: number | null;
  tensorrtVersion: string | null;
}

/**
 * Benchmarks a serialized TensorRT engine with `trtexec --loadEngine` in the TensorRT container and reads its
 * `--exportTimes` trace (per-inference timestamps) instead of scraping the log summary. trtexec's own warm-up is off
 * (`--warmUp=0`) and the first `warmup` inferences of the trace are dropped, so warm-up means the same as elsewhere.
 */
export async function benchPlan(
  target: { file: string; shown: string; tensorrtVersion: string | null; image: string | null },
  options: Pick<
    EngineBenchOptions,
    'shapes' | 'batch' | 'iterations' | 'durationMs' | 'warmup' | 'tensorrtImage' | 'signal' | 'onProgress'
  >,
): Promise<PlanBenchOutcome> {
  // The image the engine was built in (from the artifact manifest) is the one it loads in; compile's default otherwise.
  const image = options.tensorrtImage ?? target.image ?? (await import('../../proc/trtexec.js')).TENSORRT_DEFAULT_IMAGE;
  const shapeSets = planShapeSets(options.shapes ?? {}, options.batch);
  const warmup = options.warmup ?? 10;

  if (target.tensorrtVersion) {
    options.onProgress?.({ phase: 'load', message: `checking the TensorRT version of ${image}` });
    const probe = await runContainer(trtexecVersionSpec(image), { signal: options.signal }).catch((error: unknown) => {
      // trtexec --help exits non-zero on some versions; its banner is still in the output.
      if (error instanceof ToolFailedError) return { stdout: error.stderr, stderr: '', exitCode: 1 };
      throw error;
    });
    const containerVersion = parseTensorrtVersion(`${probe.stdout}\n${probe.stderr}`);
    if (containerVersion && !sameRelease(containerVersion, target.tensorrtVersion))
      throw mismatch(target.shown, target.tensorrtVersion, containerVersion, image);
  }

  const results: GenericConfigResult[] = [];
  let loadMs: number | null = null;
  let tensorrtVersion: string | null = null;
  for (const shapes of shapeSets) {
    throwIfAborted(options.signal);
    const label = Object.keys(shapes).length
      ? `shapes ${Object.entries(shapes)
          .map(([name, dims]) => `${name}=${dims.join('x')}`)
          .join(',')}`
      : 'engine shapes';
    options.onProgress?.({
      phase: 'measure',
      config: label,
      done: 0,
      total: options.durationMs === undefined ? (options.iterations ?? 100) : null,
    });
    const outDir = await mkdtemp(path.join(os.tmpdir(), 'llmops-trtexec-'));
    try {
      const spec = trtexecBenchSpec({
        image,
        enginePath: target.file,
        outDir,
        shapes,
        warmupMs: 0,
        ...(options.durationMs !== undefined
          ? { durationS: options.durationMs / 1000 }
          : { iterations: (options.iterations ?? 100) + warmup }),
      });
      let log: string;
      try {
        const run = await runContainer(spec, { signal: options.signal });
        log = `${run.stdout}\n${run.stderr}`;
      } catch (error) {
        const text =
          error instanceof ToolFailedError
            ? error.stderr
            : error instanceof LlmopsError && error.cause instanceof ToolFailedError
              ? error.cause.stderr
              : '';
        const versions = parseVersionMismatch(text);
        if (versions)
          throw mismatch(
            target.shown,
            versions.engine ?? target.tensorrtVersion ?? 'another version',
            versions.runtime ?? parseTensorrtVersion(text) ?? 'this one',
            image,
          );
        throw error;
      }
      tensorrtVersion ??= parseTensorrtVersion(log);
      loadMs ??= parseDeserializeMs(log);

      let timesText: string;
      try {
        timesText = await readFile(path.join(outDir, TIMES_FILE), 'utf8');
      } catch {
        throw new LlmopsError(
          `trtexec finished but wrote no --exportTimes file for ${target.shown}`,
          'TRTEXEC_NO_TIMES',
          { hint: 'run with --verbose to see its log' },
        );
      }
      let timings;
      try {
        timings = parseExportTimes(timesText);
      } catch (error) {
        throw new LlmopsError((error as Error).message, 'TRTEXEC_BAD_TIMES');
      }
      const warm = timings.slice(0, Math.min(warmup, Math.max(0, timings.length - 1)));
      const measured = timings.slice(warm.length);
      const latency = new Recorder();
      for (const timing of measured) latency.record(timing.latencyMs);
      const described = describe(latency);
      const batch = Object.values(shapes)[0]?.[0] ?? 1;
      const wallMs = measured.length ? measured[measured.length - 1]!.end - measured[0]!.start : 0;
      results.push({
        batch,
        shapes,
        iterations: measured.length,
        latencyMs: described.latency,
        throughputPerSecond: wallMs > 0 ? round((batch * measured.length) / (wallMs / 1000), 2) : 0,
        // trtexec runs in its own container: this process's RSS says nothing about it.
        peakRssMb: null,
        ...(parseTensorrtGpuMemoryMb(log) !== null ? { peakGpuMemoryMb: parseTensorrtGpuMemoryMb(log)! } : {}),
        warmup: { iterations: warm.length, meanMs: round(mean(warm.map((timing) => timing.latencyMs))) },
        stats: { latencyMs: described.stats },
        noisy: described.noisy ? ['latencyMs'] : [],
      });
      options.onProgress?.({ phase: 'config-done', config: label });
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }
  return { results, loadMs, tensorrtVersion };
}

/**
 * A `.plan` has no ONNX metadata to resolve symbolic names against, so shapes must name inputs (`INPUT=1x3x224x224`).
 * `--batch` then replaces the leading dimension of each, one configuration per batch size.
 */
export function planShapeSets(
  shapes: Record<string, number | number[]>,
  batches: number[] | undefined,
): Array<Record<string, number[]>> {
  const whole: Record<string, number[]> = {};
  for (const [name, value] of Object.entries(shapes)) {
    if (!Array.isArray(value)) {
      throw usageError(
        `--shape ${name}=${value} names a dimension, but a TensorRT engine needs whole input shapes`,
        'INVALID_SHAPE',
        {
          hint: 'pass --shape INPUT=D1xD2… (e.g. --shape input=8x3x224x224) for each dynamic input',
        },
      );
    }
    whole[name] = value;
  }
  if (!batches?.length || Object.keys(whole).length === 0) return [whole];
  return batches.map((batch) =>
    Object.fromEntries(Object.entries(whole).map(([name, dims]) => [name, [batch, ...dims.slice(1)]])),
  );
}

function sameRelease(a: string, b: string): boolean {
  const release = (version: string) => version.split('.').slice(0, 3).map(Number).join('.');
  return release(a) === release(b);
}

function mismatch(shown: string, engine: string, runtime: string, image: string): LlmopsError {
  return usageError(
    `${shown} was built with TensorRT ${engine} but ${image} has TensorRT ${runtime}; engines only load in the TensorRT they were built with`,
    'TENSORRT_VERSION_MISMATCH',
    {
      hint: `rebuild the engine with \`llmops compile --backend tensorrt\` using this image, or bench it with the image it was built in (--tensorrt-image)`,
    },
  );
}
