import { createRequire } from 'node:module';
import os from 'node:os';
import type { HardwareInfo } from './types.js';

/** What the numbers were measured on: a result without it cannot be compared with another. */
export async function describeHardware(options: { gpu: boolean; tensorrt?: string | null }): Promise<HardwareInfo> {
  const cpus = os.cpus();
  const info: HardwareInfo = {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.versions.node,
  };
  const ortVersion = onnxruntimeVersion();
  if (ortVersion) info.onnxruntime = ortVersion;
  if (options.gpu) {
    const { queryGpus } = await import('../../proc/nvidia-smi.js');
    const gpus = await queryGpus();
    if (gpus.length > 0) {
      info.gpu = gpus
        .map((gpu) =>
          [
            gpu.name,
            gpu.memoryMiB ? `${gpu.memoryMiB} MiB` : '',
            gpu.computeCapability ? `sm ${gpu.computeCapability}` : '',
            gpu.driver ? `driver ${gpu.driver}` : '',
          ]
            .filter(Boolean)
            .join(', '),
        )
        .join('; ');
    }
  }
  if (options.tensorrt) info.tensorrt = options.tensorrt;
  return info;
}

function onnxruntimeVersion(): string | undefined {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return undefined;
  }
}
