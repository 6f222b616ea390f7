import { runPlan, type CommandPlan } from './exec.js';

/** GPU memory used by each compute process, in MiB. */
export function computeAppsPlan(): CommandPlan {
  return { name: 'nvidia-smi', file: 'nvidia-smi', argv: ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits'] };
}

/** Name, total memory and driver of each GPU. */
export function gpuInfoPlan(): CommandPlan {
  return { name: 'nvidia-smi', file: 'nvidia-smi', argv: ['--query-gpu=name,memory.total,driver_version', '--format=csv,noheader,nounits'] };
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

export interface GpuInfo {
  name: string;
  memoryMb: number;
  driver: string;
}

export function parseGpuInfo(csv: string): GpuInfo[] {
  return csv
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [name = '', memory = '', driver = ''] = line.split(',').map((cell) => cell.trim());
      return { name, memoryMb: Number(memory) || 0, driver };
    });
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

export async function gpuInfo(): Promise<GpuInfo[]> {
  try {
    const { stdout } = await runPlan(gpuInfoPlan(), { timeoutMs: 10_000 });
    return parseGpuInfo(stdout);
  } catch {
    return [];
  }
}

/**
 * Samples this process's GPU memory on a slow timer while a configuration runs (nvidia-smi takes tens of ms, so
 * sampling it per step would distort the timings). Returns the peak seen, or null when nothing was readable.
 */
export function gpuMemorySampler(pid = process.pid, intervalMs = 1000): { start(): void; stop(): Promise<number | null> } {
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
