import { createHash } from 'node:crypto';
import { LlmopsError } from '../errors.js';
import { runPlan, ToolFailedError, type CommandPlan, type RunPlanOptions, type RunPlanResult } from './exec.js';

export interface DockerMount {
  source: string;
  target: string;
  readOnly?: boolean;
}

/** One `docker run`, as data. Secrets are passed by name only (`-e HF_TOKEN`), so values never reach argv or logs. */
export interface DockerRunSpec {
  /** Step name, e.g. `trtexec-build`. */
  name: string;
  image: string;
  /** Container name: known in advance so Ctrl-C can remove it. */
  containerName: string;
  /** Command and arguments inside the container. */
  args: string[];
  mounts?: DockerMount[];
  /** Variables forwarded from the caller's environment by name. */
  envNames?: string[];
  /** Non-secret variables set explicitly. */
  env?: Record<string, string>;
  /** `all`, a count, or undefined for no GPU. */
  gpus?: 'all' | number;
  /** `uid:gid` so files written to mounts are owned by the user. @default the current user */
  user?: string | null;
  workdir?: string;
  entrypoint?: string;
  /** Shared memory for frameworks that need it (TensorRT-LLM, PyTorch). */
  shmSize?: string;
  ipcHost?: boolean;
}

export function defaultUser(): string | null {
  return typeof process.getuid === 'function' && typeof process.getgid === 'function'
    ? `${process.getuid()}:${process.getgid()}`
    : null;
}

/** The `docker run` plan for a spec. Pure: tests compare argv without Docker. */
export function dockerRunPlan(spec: DockerRunSpec): CommandPlan {
  const argv = ['run', '--rm', '--name', spec.containerName];
  const user = spec.user === undefined ? defaultUser() : spec.user;
  if (user) argv.push('--user', user);
  if (spec.gpus !== undefined) argv.push('--gpus', String(spec.gpus));
  if (spec.ipcHost) argv.push('--ipc', 'host');
  if (spec.shmSize) argv.push('--shm-size', spec.shmSize);
  for (const mount of spec.mounts ?? [])
    argv.push('-v', `${mount.source}:${mount.target}${mount.readOnly ? ':ro' : ''}`);
  for (const name of [...(spec.envNames ?? [])].sort()) argv.push('-e', name);
  for (const [key, value] of Object.entries(spec.env ?? {}).sort(([a], [b]) => a.localeCompare(b)))
    argv.push('-e', `${key}=${value}`);
  if (spec.workdir) argv.push('-w', spec.workdir);
  if (spec.entrypoint) argv.push('--entrypoint', spec.entrypoint);
  argv.push(spec.image, ...spec.args);
  return { name: spec.name, file: 'docker', argv };
}

/**
 * A recognisable container name, stable for the same step and key (e.g. the output directory) so dry runs print the
 * same plan every time, yet distinct between builds of different outputs.
 */
export function containerName(step: string, key = ''): string {
  return `llmops-${step}-${createHash('sha256').update(key).digest('hex').slice(0, 10)}`;
}

/**
 * Runs a container and classifies Docker's failures into errors a user can act on.
 * On abort the container is removed (`docker rm -f`) before the client is killed.
 */
export async function runContainer(spec: DockerRunSpec, options: RunPlanOptions = {}): Promise<RunPlanResult> {
  const plan = dockerRunPlan(spec);
  try {
    return await runPlan(plan, {
      ...options,
      onAbort: async () => {
        await runPlan({ name: 'docker-rm', file: 'docker', argv: ['rm', '-f', spec.containerName] }).catch(
          () => undefined,
        );
        await options.onAbort?.();
      },
    });
  } catch (error) {
    if (error instanceof ToolFailedError) throw classifyDockerFailure(plan, error);
    throw error;
  }
}

/** Maps Docker's well-known failure texts to one-line errors with a fix. */
export function classifyDockerFailure(plan: CommandPlan, error: ToolFailedError): LlmopsError {
  const text = error.stderr;
  const exitCode = Number(error.details?.exitCode ?? 1);
  if (/Cannot connect to the Docker daemon|docker daemon is not running|error during connect/i.test(text)) {
    return new LlmopsError(`${plan.name}: the Docker daemon is not reachable`, 'DOCKER_DAEMON_UNAVAILABLE', {
      hint: 'start Docker (or set DOCKER_HOST) and try again',
      cause: error,
    });
  }
  if (
    /could not select device driver .*gpu|nvidia-container-cli|unknown or invalid runtime name: nvidia|--gpus.*not supported/i.test(
      text,
    )
  ) {
    return new LlmopsError(
      `${plan.name}: Docker cannot give the container a GPU (NVIDIA Container Toolkit missing or no GPU)`,
      'DOCKER_NO_GPU_RUNTIME',
      {
        hint: 'install the NVIDIA Container Toolkit and restart Docker: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/',
        cause: error,
      },
    );
  }
  if (exitCode === 137 || /out of memory|OOMKilled|CUDA out of memory|cudaErrorMemoryAllocation/i.test(text)) {
    return new LlmopsError(`${plan.name}: the container ran out of memory (exit ${exitCode})`, 'OUT_OF_MEMORY', {
      hint: 'use smaller shapes or batch, a lower precision, or a machine with more memory',
      cause: error,
    });
  }
  if (/pull access denied|manifest unknown|not found: manifest|unable to find image/i.test(text) && exitCode === 125) {
    return new LlmopsError(
      `${plan.name}: image ${plan.argv.find((a, i) => i > 0 && !a.startsWith('-')) ?? ''} could not be pulled`,
      'DOCKER_IMAGE_UNAVAILABLE',
      {
        hint: 'check the image name and tag, and `docker login` for private registries',
        cause: error,
      },
    );
  }
  return error;
}
