import path from 'node:path';
import type { Precision } from '../artifact/compile-choices.js';
import { usageError } from '../errors.js';
import { containerName, type DockerRunSpec } from './docker.js';

/** The image trtexec runs in, for compile and bench alike (`--image` / `--tensorrt-image` override it). */
export const TENSORRT_DEFAULT_IMAGE = 'nvcr.io/nvidia/tensorrt:25.01-py3';
/** The major version of TensorRT in the default image; `compile.tensorrtMajor` overrides it for other images. */
export const TENSORRT_DEFAULT_MAJOR = 10;

/** min/opt/max sizes of one symbolic dimension of an optimization profile. */
export interface DimRange {
  min: number;
  opt: number;
  max: number;
}

export interface TrtexecBuildOptions {
  onnx: string;
  engine: string;
  /** Optimization profile per input: dims as ranges or fixed numbers. */
  profile: Record<string, Array<number | DimRange>>;
  precision: Precision;
  /** TensorRT major version the flags are for (11 removed --fp16/--int8/--best). */
  tensorrtMajor: number;
  timingCache?: string;
  /** Workspace memory pool in MiB. */
  workspaceMiB?: number;
}

const dims = (values: Array<number | DimRange>, pick: keyof DimRange) =>
  values.map((v) => (typeof v === 'number' ? v : v[pick])).join('x');

/** `trtexec` arguments for building an engine from ONNX with one optimization profile. */
export function trtexecBuildArgs(options: TrtexecBuildOptions): string[] {
  const shapes = (pick: keyof DimRange) =>
    Object.entries(options.profile)
      .map(([name, values]) => `${name}:${dims(values, pick)}`)
      .join(',');
  const args = [
    `--onnx=${options.onnx}`,
    `--saveEngine=${options.engine}`,
    `--minShapes=${shapes('min')}`,
    `--optShapes=${shapes('opt')}`,
    `--maxShapes=${shapes('max')}`,
  ];
  if (options.tensorrtMajor >= 11) {
    // TensorRT 11 builds strongly typed networks only: precision comes from the ONNX tensors' dtypes.
    if (options.precision !== 'fp32') args.push('--stronglyTyped');
  } else if (options.precision === 'fp16') args.push('--fp16');
  else if (options.precision === 'bf16') args.push('--bf16');
  else if (options.precision === 'int8') args.push('--int8');
  if (options.timingCache) args.push(`--timingCacheFile=${options.timingCache}`);
  args.push(`--memPoolSize=workspace:${options.workspaceMiB ?? 4096}M`, '--skipInference');
  return args;
}

/** Parses `batch=1:4:8,seq=1:128:512,past=0:128:1024` (each range min:opt:max, or one number for all three). */
export function parseShapes(spec: string): Record<string, DimRange> {
  const out: Record<string, DimRange> = {};
  for (const part of spec
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const match = /^([a-z_]+)=(\d+)(?::(\d+):(\d+))?$/.exec(part);
    if (!match)
      throw usageError(`--shapes: expected NAME=MIN:OPT:MAX (e.g. batch=1:4:8), got \`${part}\``, 'INVALID_SHAPES');
    const min = Number(match[2]);
    const opt = match[3] === undefined ? min : Number(match[3]);
    const max = match[4] === undefined ? min : Number(match[4]);
    if (!(min <= opt && opt <= max))
      throw usageError(`--shapes: ${match[1]} needs MIN <= OPT <= MAX, got ${min}:${opt}:${max}`, 'INVALID_SHAPES');
    out[match[1]!] = { min, opt, max };
  }
  return out;
}

/**
 * The TensorRT version in trtexec's banner (`&&&& RUNNING TensorRT.trtexec [TensorRT v100300]`): TensorRT 10+ encodes
 * major·10000 + minor·100 + patch, TensorRT 8 and earlier major·1000 + minor·100 + patch. Dotted banners are read as is.
 */
export function parseTensorrtVersion(log: string): string | null {
  const match = /TensorRT v(\d+(?:\.\d+)*)\b/.exec(log);
  if (match) {
    const raw = match[1]!;
    if (raw.includes('.')) return raw;
    const value = Number(raw);
    const [major, rest] =
      value >= 100000 ? [Math.floor(value / 10000), value % 10000] : [Math.floor(value / 1000), value % 1000];
    return `${major}.${Math.floor(rest / 100)}.${rest % 100}`;
  }
  const line = /TensorRT version:?\s*(\d+\.\d+\.\d+)/i.exec(log);
  return line ? line[1]! : null;
}

export interface TrtexecBenchSpecOptions {
  image: string;
  /** Host path of the serialized engine. */
  enginePath: string;
  /** Host directory where trtexec writes its --exportTimes JSON. */
  outDir: string;
  /** Input shapes for dynamic engines: `{ input: [1, 3, 224, 224] }` → `--shapes=input:1x3x224x224`. */
  shapes?: Record<string, number[]>;
  /** Warm-up time in milliseconds (trtexec's `--warmUp`). */
  warmupMs: number;
  /** Minimum number of measured inferences (`--iterations`). */
  iterations?: number;
  /** Minimum measuring time in seconds (`--duration`). */
  durationS?: number;
}

export const TIMES_FILE = 'times.json';

/** `trtexec --loadEngine … --exportTimes` in the TensorRT container, as a Docker plan. */
export function trtexecBenchSpec(options: TrtexecBenchSpecOptions): DockerRunSpec {
  const engineName = path.basename(options.enginePath);
  const args = [
    'trtexec',
    `--loadEngine=/engine/${engineName}`,
    `--exportTimes=/out/${TIMES_FILE}`,
    `--warmUp=${Math.round(options.warmupMs)}`,
  ];
  // trtexec runs for at least --iterations AND at least --duration seconds; zero duration makes the count exact.
  if (options.durationS !== undefined)
    args.push(`--duration=${Math.max(1, Math.round(options.durationS))}`, '--iterations=1');
  else args.push(`--iterations=${options.iterations ?? 100}`, '--duration=0');
  const shapes = Object.entries(options.shapes ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (shapes.length > 0) args.push(`--shapes=${shapes.map(([name, dims]) => `${name}:${dims.join('x')}`).join(',')}`);
  return {
    name: 'trtexec-bench',
    image: options.image,
    containerName: containerName('trtexec-bench'),
    args,
    mounts: [
      { source: path.dirname(options.enginePath), target: '/engine', readOnly: true },
      { source: options.outDir, target: '/out' },
    ],
    gpus: 'all',
  };
}

/** `trtexec --help`: cheap, and its banner says which TensorRT the container has. */
export function trtexecVersionSpec(image: string): DockerRunSpec {
  return {
    name: 'trtexec-version',
    image,
    containerName: containerName('trtexec-version'),
    args: ['trtexec', '--help'],
    gpus: 'all',
  };
}

/** The engine/runtime versions from TensorRT's deserialization errors, when the failure was a version mismatch. */
export function parseVersionMismatch(log: string): { engine: string | null; runtime: string | null } | null {
  const library = /not compatible with this version of TensorRT, expecting library version ([\d.]+) got ([\d.]+)/.exec(
    log,
  );
  if (library) return { runtime: library[1]!, engine: library[2]! };
  const tag = /Version tag does not match\.?\s*Note: Current Version: (\d+), Serialized Engine Version: (\d+)/.exec(
    log,
  );
  if (tag) return { runtime: `serialization version ${tag[1]}`, engine: `serialization version ${tag[2]}` };
  if (/Version tag does not match|Magic tag does not match/.test(log)) return { engine: null, runtime: null };
  return null;
}

/** Engine deserialization time from trtexec's log (`Engine deserialized in 0.0123 sec.`), in ms. */
export function parseDeserializeMs(log: string): number | null {
  const match = /Engine deserialized in ([\d.]+) sec/.exec(log) ?? /Engine loaded in ([\d.]+) sec/.exec(log);
  return match ? Math.round(Number(match[1]) * 1000 * 1000) / 1000 : null;
}

/** Peak GPU memory TensorRT reports having allocated (`[MemUsageChange] … now: CPU 0, GPU 12 (MiB)`). */
export function parseTensorrtGpuMemoryMb(log: string): number | null {
  let peak: number | null = null;
  for (const match of log.matchAll(/now: CPU \d+, GPU (\d+) \(MiB\)/g)) peak = Math.max(peak ?? 0, Number(match[1]));
  return peak;
}

/** One inference of trtexec's `--exportTimes` trace, in milliseconds since the run started. */
export interface TrtexecTiming {
  start: number;
  end: number;
  computeStart: number;
  latencyMs: number;
  computeMs: number;
}

/**
 * Parses an `--exportTimes` JSON trace. TensorRT 8.2+ writes `startH2dMs … latencyMs`, earlier versions
 * `startInMs … latencyMs`; both give per-inference latency (H2D + compute + D2H) and timestamps for throughput.
 */
export function parseExportTimes(text: string): TrtexecTiming[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`trtexec --exportTimes output is not JSON: ${(error as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error('trtexec --exportTimes output is not a JSON array');
  return parsed.map((entry, index) => {
    const record = entry as Record<string, unknown>;
    const number = (...keys: string[]) => {
      for (const key of keys) if (typeof record[key] === 'number' && Number.isFinite(record[key])) return record[key];
      return undefined;
    };
    const latencyMs = number('latencyMs');
    const computeStart = number('startComputeMs');
    const start = number('startH2dMs', 'startInMs', 'startEnqMs', 'startComputeMs');
    const end = number('endD2hMs', 'endOutMs', 'endComputeMs');
    if (latencyMs === undefined || computeStart === undefined || start === undefined || end === undefined) {
      throw new Error(`trtexec --exportTimes entry ${index} lacks latencyMs or timestamps`);
    }
    return { start, end, computeStart, latencyMs, computeMs: number('computeMs') ?? latencyMs };
  });
}
