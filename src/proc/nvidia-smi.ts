import { runPlan, which, type CommandPlan } from './exec.js';

export interface GpuInfo {
  name: string;
  computeCapability?: string;
  driver?: string;
  memoryMiB?: number;
}

export const GPU_QUERY_FIELDS = ['name', 'compute_cap', 'driver_version', 'memory.total'];

export function gpuQueryPlan(): CommandPlan {
  return {
    name: 'nvidia-smi',
    file: 'nvidia-smi',
    argv: [`--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'],
  };
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
    const { stdout } = await runPlan(
      { name: 'nvidia-smi', file: 'nvidia-smi', argv: ['--query-gpu=memory.used', '--format=csv,noheader,nounits'] },
      { timeoutMs: 15_000 },
    );
    return stdout.split('\n').map(Number).filter(Number.isFinite);
  } catch {
    return [];
  }
}

/** GPU memory used by each compute process, in MiB. */
export function computeAppsPlan(): CommandPlan {
  return {
    name: 'nvidia-smi',
    file: 'nvidia-smi',
    argv: ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'],
  };
}

/** Parses `pid, used_memory` CSV lines into MiB per pid; `[N/A]` values are skipped. */
export function parseComputeApps(csv: string): Map<number, number> {
  const usage = new Map<number, number>();
  for (const line of csv.split('\n')) {
    const [pid, used] = line.split(',').map((cell) => cell.trim());
    const pidNumber = Number(pid);
    const usedNumber = Number(used);
    if (!line.trim() || !Number.isInteger(pidNumber) || !Number.isFinite(usedNumber)) continue;
    usage.set(pidNumber, (usage.get(pidNumber) ?? 0) + usedNumber);
  }
  return usage;
}

/** GPU memory in MiB that `pid` holds now, or null when nvidia-smi is missing or does not list it. */
export async function gpuMemoryOf(pid: number, signal?: AbortSignal): Promise<number | null> {
  try {
    const { stdout } = await runPlan(computeAppsPlan(), { signal, timeoutMs: 10_000 });
    return parseComputeApps(stdout).get(pid) ?? null;
  } catch {
    return null;
  }
}

/**
 * Samples this process's GPU memory on a slow timer while a configuration runs (nvidia-smi takes tens of ms, so
 * sampling it per step would distort the timings). Returns the peak seen, or null when nothing was readable.
 */
export function gpuMemorySampler(
  pid = process.pid,
  intervalMs = 1000,
): { start(): void; stop(): Promise<number | null> } {
  let peak: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  let pending: Promise<void> = Promise.resolve();
  const sample = () => {
    pending = gpuMemoryOf(pid).then((used) => {
      if (used !== null) peak = Math.max(peak ?? 0, used);
    });
  };
  return {
    start() {
      sample();
      timer = setInterval(sample, intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await pending;
      sample();
      await pending;
      return peak;
    },
  };
}
