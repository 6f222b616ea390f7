import type * as Ort from 'onnxruntime-node';
import { usageError } from '../../errors.js';

/**
 * Parses `--shape` values: `NAME=DIM` sets a symbolic dimension (`batch=8`), `INPUT=D1xD2…` sets an input's whole
 * shape (`pixel_values=1x3x224x224`). Malformed values are usage errors that show the expected form.
 */
export function parseShapes(values: readonly string[]): Record<string, number | number[]> {
  const shapes: Record<string, number | number[]> = {};
  for (const value of values) {
    const match = /^([^=\s]+)=(\d+(?:x\d+)*)$/.exec(value.trim());
    if (!match) {
      throw usageError(
        `malformed --shape \`${value}\`: expected NAME=DIM (batch=8) or INPUT=D1xD2… (pixel_values=1x3x224x224)`,
        'INVALID_SHAPE',
      );
    }
    const dims = match[2]!.split('x').map(Number);
    if (dims.some((dim) => !Number.isSafeInteger(dim) || dim <= 0)) {
      throw usageError(
        `malformed --shape \`${value}\`: dimensions must be positive integers, as in NAME=DIM (batch=8)`,
        'INVALID_SHAPE',
      );
    }
    shapes[match[1]!] = dims.length === 1 && !match[2]!.includes('x') ? dims[0]! : dims;
  }
  return shapes;
}

export interface InputSpec {
  name: string;
  type: Ort.Tensor.Type;
  dims: number[];
}

const LEADING_BATCH_NAMES = /^(batch|batch_size|n|N|b|B|batchsize|unk__\d+)$/;

/**
 * Resolves every input's concrete shape from the session metadata: fixed dimensions stay, symbolic ones come from
 * `shapes` (by dimension name), an input named in `shapes` takes that whole shape, and `batch` fills a leading
 * symbolic dimension nobody set. onnxruntime-node ignores `freeDimensionOverrides`, so the tensors carry the shapes.
 */
export function resolveInputSpecs(
  metadata: readonly Ort.InferenceSession.ValueMetadata[],
  shapes: Record<string, number | number[]>,
  batch: number | undefined,
  shownPath: string,
): InputSpec[] {
  const unresolved = new Set<string>();
  const specs: InputSpec[] = [];
  for (const value of metadata) {
    if (!value.isTensor)
      throw usageError(
        `${shownPath}: input ${value.name} is not a tensor; generic mode can only synthesize tensors`,
        'UNSUPPORTED_INPUT',
      );
    const whole = shapes[value.name];
    if (Array.isArray(whole)) {
      if (whole.length !== value.shape.length) {
        throw usageError(
          `--shape ${value.name}=${whole.join('x')} has ${whole.length} dimensions but input ${value.name} has ${value.shape.length}`,
          'INVALID_SHAPE',
        );
      }
      specs.push({ name: value.name, type: value.type, dims: [...whole] });
      continue;
    }
    const dims = value.shape.map((dim, index) => {
      if (typeof dim === 'number' && dim > 0) return dim;
      const symbol = typeof dim === 'string' && dim ? dim : `${value.name}[${index}]`;
      const given = shapes[symbol];
      if (typeof given === 'number') return given;
      if (
        index === 0 &&
        batch !== undefined &&
        (LEADING_BATCH_NAMES.test(symbol) || typeof dim !== 'string' || dim === '')
      )
        return batch;
      unresolved.add(symbol);
      return 0;
    });
    specs.push({ name: value.name, type: value.type, dims });
  }
  if (unresolved.size > 0) {
    const names = [...unresolved].sort();
    throw usageError(`${shownPath} has symbolic dimensions without a value: ${names.join(', ')}`, 'SHAPE_REQUIRED', {
      hint: `pass ${names.map((name) => `--shape ${name}=N`).join(' ')}`,
    });
  }
  return specs;
}

/**
 * Fills a tensor for each input: small random floats, ones for integer inputs (valid token and index ids for most
 * models), false for booleans. Deterministic (seeded) so repeated runs do the same work.
 */
export function synthesizeFeeds(ort: typeof Ort, specs: readonly InputSpec[], seed = 1): Record<string, Ort.Tensor> {
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const feeds: Record<string, Ort.Tensor> = {};
  for (const spec of specs) {
    const size = spec.dims.reduce((product, dim) => product * dim, 1);
    feeds[spec.name] = new ort.Tensor(
      spec.type as 'float32',
      makeData(spec.type, size, random) as Float32Array,
      spec.dims,
    );
  }
  return feeds;
}

function makeData(type: Ort.Tensor.Type, size: number, random: () => number): Ort.Tensor.DataType {
  switch (type) {
    case 'float32':
      return Float32Array.from({ length: size }, () => random() * 2 - 1);
    case 'float64':
      return Float64Array.from({ length: size }, () => random() * 2 - 1);
    case 'float16': {
      // IEEE half bit patterns of values in [-1, 1): sign, exponent 14 (0.5-1) and a random mantissa.
      return Uint16Array.from(
        { length: size },
        () => ((random() < 0.5 ? 0x8000 : 0) | (14 << 10) | Math.floor(random() * 1024)) & 0xffff,
      );
    }
    case 'int64':
      return new BigInt64Array(size).fill(1n);
    case 'uint64':
      return new BigUint64Array(size).fill(1n);
    case 'int32':
      return new Int32Array(size).fill(1);
    case 'uint32':
      return new Uint32Array(size).fill(1);
    case 'int16':
      return new Int16Array(size).fill(1);
    case 'uint16':
      return new Uint16Array(size).fill(1);
    case 'int8':
      return new Int8Array(size).fill(1);
    case 'uint8':
      return new Uint8Array(size).fill(1);
    case 'bool':
      return new Uint8Array(size);
    default:
      throw usageError(`cannot synthesize an input of type ${type}`, 'UNSUPPORTED_INPUT');
  }
}
