import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isMainThread } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { LlmopsError, usageError } from '../errors.js';
import { defaultThreadCount } from './cpu-threads.js';

/**
 * The ONNX Runtime execution providers llmops runs on; config, flags and the bench take their choices from here.
 * `webgpu` ships inside the npm package (Dawn over Vulkan on Linux): GPU inference with no CUDA install, on any GPU whose
 * driver provides Vulkan. `cuda` and `tensorrt` need the package installed with `--onnxruntime-node-install=cuda12`.
 */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

export interface CreateSessionOptions {
  /** @default 'cpu' */
  provider?: ExecutionProvider;
  /** Intra-op threads. @default one per physical core within the CPU quota (see defaultThreadCount) */
  threads?: number;
  /**
   * Whether ONNX Runtime's intra-op threads spin, waiting for work, between parallel sections (its default) instead of
   * sleeping. Spinning is fastest for one process that only runs the model; a server's HTTP work, and anything else on
   * its cores, then waits for a spinning thread's time slice to end. @default true
   */
  spinWait?: boolean;
  /** @default 'all' */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'layout' | 'all';
  /** Where ONNX Runtime writes the optimized graph (used by `llmops compile --backend ort`). */
  optimizedModelFilePath?: string;
  /** With optimizedModelFilePath: keep weights in this external data file beside it (needed above 2 GB). */
  externalInitializersFile?: string;
  /** Outputs a device provider leaves in device memory ('gpu-buffer'), e.g. the KV cache fed back at the next step. */
  deviceOutputs?: readonly string[];
  /**
   * The model loaded from memory instead of `modelPath` (which then only names it in messages): its bytes, and the
   * directory its external weights' locations are relative to.
   */
  fromMemory?: { bytes: Uint8Array; weightsDir: string };
}

const PROVIDER_CHAINS: Record<ExecutionProvider, string[]> = {
  cpu: ['cpu'],
  cuda: ['cuda', 'cpu'],
  tensorrt: ['tensorrt', 'cuda', 'cpu'],
  // ONNX Runtime places what WebGPU lacks (shape arithmetic) on the CPU provider by itself.
  webgpu: ['webgpu'],
};

const PROVIDER_HINTS: Record<Exclude<ExecutionProvider, 'cpu'>, string> = {
  cuda: 'check the NVIDIA driver, CUDA 12 and cuDNN 9 libraries',
  tensorrt: 'check TensorRT libraries are on LD_LIBRARY_PATH',
  webgpu:
    "WebGPU runs over Vulkan: it needs the Vulkan loader (libvulkan1) and the GPU driver's Vulkan ICD (NVIDIA's driver ships one; VK_DRIVER_FILES can point at it)",
};

let ortModule: typeof Ort | undefined;

/**
 * onnxruntime-node, imported on first use so commands that don't run a model never load the native binding.
 *
 * Its usage telemetry is turned off first, unless ORT_DISABLE_TELEMETRY is already set. Since 1.30, ONNX Runtime on
 * Linux and macOS reports each process's usage to Microsoft (1DS) unless it detects a CI service. It writes a device id
 * and an event database under ~/.cache/Microsoft/DeveloperTools/.onnxruntime and leaves /tmp/mat-debug-<pid>.log
 * behind on every load. Every few seconds it then resolves mobile.events.data.microsoft.com. A command-line tool and a
 * model server make no network calls their user didn't ask for: an air-gapped cluster would only log the failures.
 * ONNX Runtime reads the variable when the binding loads, so it is set before the import (keepOrtTelemetryOff).
 */
export async function loadOrt(): Promise<typeof Ort> {
  if (!isMainThread && process.env.ORT_DISABLE_TELEMETRY === undefined) {
    // A worker's process.env is its own copy: setting it there never reaches the binding (see keepOrtTelemetryOff).
    throw new Error(
      'a worker thread loads ONNX Runtime, but its parent did not call keepOrtTelemetryOff() (exported by llmops) before starting it',
    );
  }
  keepOrtTelemetryOff();
  ortModule ??= await import('onnxruntime-node');
  return ortModule;
}

/**
 * Sets ORT_DISABLE_TELEMETRY=1 in the process's environment, unless the user set it. ONNX Runtime's binding reads the
 * process's environment, which only the main thread's process.env writes to: a worker thread's is a copy made when it
 * starts. So whoever starts a worker that loads ONNX Runtime calls this first (the worker's copy then has it too):
 * `llmops bench` loaded the model in a worker and reported usage while the CLI's other commands didn't.
 */
export function keepOrtTelemetryOff(): void {
  process.env.ORT_DISABLE_TELEMETRY ??= '1';
}

/** Creates an InferenceSession with the requested execution provider; corrupt models and missing providers are one-line errors. */
export async function createSession(
  modelPath: string,
  options: CreateSessionOptions = {},
): Promise<Ort.InferenceSession> {
  const ort = await loadOrt();
  const provider = options.provider ?? 'cpu';
  assertProviderInstalled(provider);
  const sessionOptions: Ort.InferenceSession.SessionOptions = {
    executionProviders: PROVIDER_CHAINS[provider],
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    intraOpNumThreads: options.threads ?? defaultThreadCount(),
    // WebGPU warns on every load that shape arithmetic runs on the CPU, which ONNX Runtime chose on purpose.
    ...(provider === 'webgpu' ? { logSeverityLevel: 3 as const } : {}),
    ...(options.deviceOutputs?.length && provider === 'webgpu'
      ? {
          preferredOutputLocation: Object.fromEntries(
            options.deviceOutputs.map((name) => [name, 'gpu-buffer' as const]),
          ),
        }
      : {}),
    ...(options.optimizedModelFilePath ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
    extra: {
      session: {
        ...(options.spinWait === false ? { 'intra_op.allow_spinning': '0' } : {}),
        ...(options.fromMemory ? { model_external_initializers_file_folder_path: options.fromMemory.weightsDir } : {}),
        ...(options.externalInitializersFile
          ? {
              optimized_model_external_initializers_file_name: options.externalInitializersFile,
              optimized_model_external_initializers_min_size_in_bytes: '1024',
            }
          : {}),
      },
    },
  };
  try {
    return options.fromMemory
      ? await ort.InferenceSession.create(options.fromMemory.bytes, sessionOptions)
      : await ort.InferenceSession.create(modelPath, sessionOptions);
  } catch (error) {
    const message = firstLine((error as Error).message);
    if (/provider|cuda|tensorrt|libcudnn|libnvinfer|webgpu|adapter/i.test(message) && provider !== 'cpu') {
      throw new LlmopsError(
        `ONNX Runtime could not start the ${provider} execution provider: ${message}`,
        'PROVIDER_FAILED',
        { hint: PROVIDER_HINTS[provider], cause: error },
      );
    }
    if (/escapes model directory/i.test(message)) {
      // ONNX Runtime 1.30 refuses external weights that resolve outside the model's directory, links included.
      throw usageError(`cannot load ${modelPath}: ${message}`, 'MODEL_WEIGHTS_OUTSIDE', {
        hint: "ONNX Runtime reads a model's external weights from its own directory only: copy the weight file there (cp -L) instead of linking to it",
        cause: error,
      });
    }
    throw usageError(`cannot load ${modelPath}: ${message}`, 'MODEL_CORRUPT', {
      hint: 'the file is truncated, corrupt or not an ONNX model; re-export or re-download it',
      cause: error,
    });
  }
}

/**
 * The npm package ships only the CPU provider unless it was installed with `--onnxruntime-node-install=cuda12`;
 * without this check ONNX Runtime fails with a dlopen message that doesn't say how to fix it.
 */
export function assertProviderInstalled(provider: ExecutionProvider): void {
  if (provider === 'cpu' || provider === 'webgpu') return;
  const require = createRequire(import.meta.url);
  const packageDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  const binDir = path.join(packageDir, 'bin', 'napi-v6', process.platform, process.arch);
  const library = `libonnxruntime_providers_${provider === 'cuda' ? 'cuda' : 'tensorrt'}.so`;
  if (!existsSync(path.join(binDir, library))) {
    throw usageError(
      `the ${provider} execution provider is not installed (${library} not found in onnxruntime-node)`,
      'PROVIDER_NOT_INSTALLED',
      {
        hint: 'reinstall with GPU support: npm install onnxruntime-node --onnxruntime-node-install=cuda12 (needs an NVIDIA driver, CUDA 12 and cuDNN 9)',
      },
    );
  }
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .find((line) => line.trim())
      ?.trim() ?? text
  );
}
