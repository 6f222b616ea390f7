import { usageError } from '../errors.js';

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
  precision: 'fp32' | 'fp16' | 'bf16' | 'int8';
  /** TensorRT major version the flags are for (11 removed --fp16/--int8/--best). */
  tensorrtMajor: number;
  timingCache?: string;
  /** Workspace memory pool in MiB. */
  workspaceMiB?: number;
}

const dims = (values: Array<number | DimRange>, pick: keyof DimRange) => values.map((v) => (typeof v === 'number' ? v : v[pick])).join('x');

/** `trtexec` arguments for building an engine from ONNX with one optimization profile. */
export function trtexecBuildArgs(options: TrtexecBuildOptions): string[] {
  const shapes = (pick: keyof DimRange) =>
    Object.entries(options.profile)
      .map(([name, values]) => `${name}:${dims(values, pick)}`)
      .join(',');
  const args = [`--onnx=${options.onnx}`, `--saveEngine=${options.engine}`, `--minShapes=${shapes('min')}`, `--optShapes=${shapes('opt')}`, `--maxShapes=${shapes('max')}`];
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
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([a-z_]+)=(\d+)(?::(\d+):(\d+))?$/.exec(part);
    if (!match) throw usageError(`--shapes: expected NAME=MIN:OPT:MAX (e.g. batch=1:4:8), got \`${part}\``, 'INVALID_SHAPES');
    const min = Number(match[2]);
    const opt = match[3] === undefined ? min : Number(match[3]);
    const max = match[4] === undefined ? min : Number(match[4]);
    if (!(min <= opt && opt <= max)) throw usageError(`--shapes: ${match[1]} needs MIN <= OPT <= MAX, got ${min}:${opt}:${max}`, 'INVALID_SHAPES');
    out[match[1]!] = { min, opt, max };
  }
  return out;
}

/** The TensorRT version in trtexec's banner: `&&&& RUNNING TensorRT.trtexec [TensorRT v100800]` → 10.8.0. */
export function parseTensorrtVersion(output: string): string | null {
  const match = /TensorRT v(\d+)(\d{2})(\d{2})\b/.exec(output) ?? /TensorRT version:?\s*(\d+)\.(\d+)\.(\d+)/i.exec(output);
  if (!match) return null;
  return `${Number(match[1])}.${Number(match[2])}.${Number(match[3])}`;
}
