import { runPlan, which, type CommandPlan } from './exec.js';

export interface GpuInfo {
  name: string;
  computeCapability?: string;
  driver?: string;
  memoryMiB?: number;
}

export const GPU_QUERY_FIELDS = ['name', 'compute_cap', 'driver_version', 'memory.total'];

export function gpuQueryPlan(): CommandPlan {
  return { name: 'nvidia-smi', file: 'nvidia-smi', argv: [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'] };
}

/** Parses `nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader,nounits`. */
export function parseGpuQuery(output: string): GpuInfo[] {
  return output
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [name, computeCapability, driver, memory] = line.split(',').map((field) => field.trim());
      const memoryMiB = Number(memory);
      return {
        name: name ?? 'unknown',
        ...(computeCapability && computeCapability !== '[N/A]' ? { computeCapability } : {}),
        ...(driver ? { driver } : {}),
        ...(Number.isFinite(memoryMiB) && memoryMiB > 0 ? { memoryMiB } : {}),
      };
    });
}

/** The GPUs of this machine, or [] when nvidia-smi is absent or fails (no GPU is not an error here). */
export async function queryGpus(): Promise<GpuInfo[]> {
  if (!(await which('nvidia-smi'))) return [];
  try {
    return parseGpuQuery((await runPlan(gpuQueryPlan(), { timeoutMs: 15_000 })).stdout);
  } catch {
    return [];
  }
}

/** Memory used on each GPU in MiB (for bench's peak GPU memory). */
export async function queryGpuMemoryUsedMiB(): Promise<number[]> {
  if (!(await which('nvidia-smi'))) return [];
  try {
    const { stdout } = await runPlan({ name: 'nvidia-smi', file: 'nvidia-smi', argv: ['--query-gpu=memory.used', '--format=csv,noheader,nounits'] }, { timeoutMs: 15_000 });
    return stdout.split('\n').map(Number).filter(Number.isFinite);
  } catch {
    return [];
  }
}
