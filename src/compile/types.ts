import type { CommandPlan } from '../proc/exec.js';
import type { DockerRunSpec } from '../proc/docker.js';
import type { ArtifactManifest } from '../artifact/manifest.js';
import type { ModelConfig } from '../engine/model-files.js';

import type { BackendName, Device, Precision } from '../artifact/compile-choices.js';

export type { BackendName, Precision };

export interface CompileOptions {
  /** Hub id or local directory. @default the embedded tiny model */
  model?: string;
  /** Hub revision (branch, tag or sha); resolved to a commit and recorded. @default main */
  revision?: string;
  backend: BackendName;
  /** @default text-generation-with-past */
  task?: string;
  /** @default fp32 (ort, optimum on cpu), fp16 (GPU backends) */
  precision?: Precision;
  /** ort: disabled | basic | extended | all; optimum: O1-O4. */
  optimize?: string;
  /** TensorRT optimization profile, e.g. `batch=1:4:8,seq=1:128:512,past=0:512:1024`. */
  shapes?: string;
  /** Container image for Docker-based backends. */
  image?: string;
  /** @default cpu for ort/optimum, cuda for TensorRT */
  device?: Device;
  /** ONNX opset for optimum exports. */
  opset?: number;
  /** Output directory. @default ./artifacts/<name>-<backend> */
  out?: string;
  force?: boolean;
  /** Plan only: return the exact commands without running anything. */
  dryRun?: boolean;
  /** TensorRT major version the trtexec flags are chosen for (TensorRT 11 removed --fp16/--int8/--best). @default 10 */
  tensorrtMajor?: number;
  /** Name recorded in the manifest. */
  name?: string;
  /** The command line, recorded in the manifest. */
  command?: string[];
  hub?: { endpoint?: string; token?: string; cache?: string };
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

/** A step of a build, as data: external commands are shown by --dry-run and run by execa; internal steps run in-process. */
export type CompileStep =
  | { name: string; kind: 'command'; plan: CommandPlan }
  | { name: string; kind: 'docker'; spec: DockerRunSpec; plan: CommandPlan }
  | { name: string; kind: 'internal'; description: string };

export interface BackendContext {
  options: CompileOptions & { task: string; precision: Precision; device: Device };
  /** Local source directory (downloaded snapshot or user directory). */
  sourceDir: string;
  /** config.json of the source, when present. */
  config: ModelConfig | null;
  /** Where the backend writes (a temp dir beside the final output). */
  workDir: string;
  /** Final output directory (for messages and manifests; never written directly). */
  outDir: string;
}

export interface BackendResult {
  tools: Record<string, string>;
  hardware: ArtifactManifest['hardware'];
  validation: ArtifactManifest['validation'];
  options: Record<string, unknown>;
  /** Warnings worth a user's attention (e.g. optimum's accuracy warnings). */
  warnings: string[];
}

export interface Backend {
  name: BackendName;
  /** Why this backend can't build this model, or null when it can. */
  unsupported(config: ModelConfig | null, options: BackendContext['options']): string | null;
  plan(context: BackendContext): Promise<CompileStep[]>;
  run(context: BackendContext): Promise<BackendResult>;
}

export interface CompileResult {
  out: string;
  backend: BackendName;
  dryRun: boolean;
  steps: Array<{ name: string; argv: string[] }>;
  manifest: ArtifactManifest | null;
  warnings: string[];
}
