import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, it } from 'node:test';
import { defaultThreadCount, parseCpuList, type ReadText } from '../../src/engine/cpu-threads.js';

/** A machine as /proc and /sys show it: `cores` lists each physical core's logical CPUs. */
function machine(options: {
  cores: number[][];
  allowed?: string;
  cgroup?: string;
  files?: Record<string, string>;
}): ReadText {
  const files: Record<string, string> = { ...options.files };
  const all = options.cores.flat();
  files['/proc/self/status'] =
    `Name:\tnode\nCpus_allowed:\tff\nCpus_allowed_list:\t${options.allowed ?? `0-${all.length - 1}`}\n`;
  for (const core of options.cores)
    for (const cpu of core)
      files[`/sys/devices/system/cpu/cpu${cpu}/topology/thread_siblings_list`] = `${core.join(',')}\n`;
  if (options.cgroup !== undefined) files['/proc/self/cgroup'] = options.cgroup;
  return (file) => files[file] ?? null;
}

describe('default ONNX Runtime threads', () => {
  it('parses the kernel cpulist format', () => {
    assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
    assert.deepEqual(parseCpuList('5'), [5]);
  });

  it('is one thread per physical core: no SMT, and hyper-threads counted once', () => {
    assert.equal(defaultThreadCount(machine({ cores: [[0], [1]] })), 2);
    assert.equal(
      defaultThreadCount(
        machine({
          cores: [
            [0, 4],
            [1, 5],
            [2, 6],
            [3, 7],
          ],
        }),
      ),
      4,
    );
  });

  it('counts only the CPUs the process may run on (taskset, cpusets)', () => {
    const cores = [
      [0, 4],
      [1, 5],
      [2, 6],
      [3, 7],
    ];
    assert.equal(defaultThreadCount(machine({ cores, allowed: '0,4' })), 1);
    assert.equal(defaultThreadCount(machine({ cores, allowed: '0-2' })), 3);
  });

  it("stays within a cgroup v2 quota, rounded down, the strictest level's", () => {
    const cores = Array.from({ length: 64 }, (_, cpu) => [cpu]);
    const pod = (max: string) => machine({ cores, cgroup: '0::/\n', files: { '/sys/fs/cgroup/cpu.max': max } });
    assert.equal(defaultThreadCount(pod('400000 100000\n')), 4);
    assert.equal(defaultThreadCount(pod('150000 100000\n')), 1);
    assert.equal(defaultThreadCount(pod('50000 100000\n')), 1);
    assert.equal(defaultThreadCount(pod('max 100000\n')), 64);
    const nested = machine({
      cores,
      cgroup: '0::/kubepods/pod1/ctr\n',
      files: {
        '/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max': 'max 100000',
        '/sys/fs/cgroup/kubepods/pod1/cpu.max': '600000 100000',
        '/sys/fs/cgroup/kubepods/cpu.max': '3200000 100000',
      },
    });
    assert.equal(defaultThreadCount(nested), 6);
  });

  it('stays within a cgroup v1 CFS quota', () => {
    const cores = Array.from({ length: 16 }, (_, cpu) => [cpu]);
    const v1 = machine({
      cores,
      cgroup: '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n',
      files: {
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '200000\n',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      },
    });
    assert.equal(defaultThreadCount(v1), 2);
    const unlimited = machine({
      cores,
      cgroup: '4:cpu,cpuacct:/\n',
      files: {
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
        '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
      },
    });
    assert.equal(defaultThreadCount(unlimited), 16);
  });

  it('falls back to the logical CPUs where /proc and /sys say nothing, and is never below one', () => {
    assert.equal(
      defaultThreadCount(() => null),
      os.availableParallelism(),
    );
    assert.ok(defaultThreadCount() >= 1);
  });
});
