import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A text file's contents, or null where it is absent or unreadable. */
export type ReadText = (file: string) => string | null;

const readText: ReadText = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/**
 * ONNX Runtime's intra-op threads when none are asked for: one per physical core this process may run on, no more
 * than its cgroup's CPU quota. ONNX Runtime's own default counts cores with cpuinfo and, where cpuinfo can't start,
 * guesses half the logical processors: on this project's 2-vCPU VM (two cores, no SMT) that is one thread, and an
 * 86M GPT-2's 16-row decode step took 56 ms instead of 39-44 ms with two. Neither way reads a container's CPU quota,
 * so a pod limited to 4 CPUs on a 64-core node would run 32 threads and be throttled by the kernel every period.
 */
export function defaultThreadCount(read: ReadText = readText): number {
  const cpus = allowedCpus(read) ?? Array.from({ length: os.availableParallelism() }, (_, cpu) => cpu);
  return Math.max(1, Math.min(physicalCores(cpus, read), cgroupCpuLimit(read)));
}

/** The logical CPUs the scheduler lets this process use (its affinity), or null where /proc doesn't say. */
function allowedCpus(read: ReadText): number[] | null {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(read('/proc/self/status') ?? '')?.[1];
  return list ? parseCpuList(list) : null;
}

/** "0-3,8,10-11" → [0, 1, 2, 3, 8, 10, 11] (the kernel's cpulist format). */
export function parseCpuList(list: string): number[] {
  return list
    .trim()
    .split(',')
    .filter(Boolean)
    .flatMap((part) => {
      const [from, to = from] = part.split('-').map(Number);
      return Array.from({ length: to! - from! + 1 }, (_, i) => from! + i);
    });
}

/** Physical cores among `cpus`: SMT siblings (hyper-threads of one core) count once. */
function physicalCores(cpus: readonly number[], read: ReadText): number {
  const cores = new Set<string>();
  for (const cpu of cpus) {
    const siblings = read(`/sys/devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`);
    if (siblings === null) return cpus.length;
    cores.add(siblings.trim());
  }
  return cores.size;
}

/**
 * Whole CPUs of the strictest CFS quota on this process's cgroup and its ancestors (Infinity: none). Rounded down: a
 * thread past the quota doesn't add compute, it gets the process throttled for the rest of each period, which shows
 * up as a stall of every running stream.
 */
function cgroupCpuLimit(read: ReadText): number {
  const limits: number[] = [];
  for (const line of (read('/proc/self/cgroup') ?? '').split('\n')) {
    const [, controllers, cgroup] = /^\d+:([^:]*):(.*)$/.exec(line.trim()) ?? [];
    if (cgroup === undefined) continue;
    if (controllers === '') {
      // cgroup v2: "max 100000" or "QUOTA PERIOD" in cpu.max, at every level up to the (namespace's) root.
      for (const dir of ancestors(path.posix.join('/sys/fs/cgroup', cgroup).replace(/\/$/, ''), '/sys/fs/cgroup')) {
        const [quota, period] = (read(`${dir}/cpu.max`) ?? '').trim().split(/\s+/);
        if (quota && quota !== 'max' && Number(period) > 0) limits.push(Number(quota) / Number(period));
      }
    } else if (controllers!.split(',').includes('cpu')) {
      // cgroup v1: a container sees its own group at the mount's root, a host process at the path.
      for (const mount of ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu']) {
        for (const dir of new Set([path.posix.join(mount, cgroup).replace(/\/$/, ''), mount])) {
          const quota = Number(read(`${dir}/cpu.cfs_quota_us`));
          const period = Number(read(`${dir}/cpu.cfs_period_us`));
          if (quota > 0 && period > 0) limits.push(quota / period);
        }
      }
    }
  }
  return limits.length > 0 ? Math.max(1, Math.floor(Math.min(...limits))) : Infinity;
}

/** `dir` and each directory above it, down to and including `root`. */
function ancestors(dir: string, root: string): string[] {
  const dirs = [dir];
  while (dirs[dirs.length - 1] !== root && dirs[dirs.length - 1]!.startsWith(`${root}/`))
    dirs.push(path.posix.dirname(dirs[dirs.length - 1]!));
  return dirs;
}
