/**
 * What a compile can be asked for and records in `llmops.json`: the manifest is the contract between compile and the
 * rest, so its vocabulary lives beside it, below config (which validates llmops.yaml's `compile:` with it) and below
 * proc (whose trtexec plan maps a precision to flags).
 */

/** The compiler backends, in `--help` order. */
export const COMPILE_BACKENDS = ['ort', 'optimum', 'tensorrt', 'tensorrt-llm'] as const;
export type BackendName = (typeof COMPILE_BACKENDS)[number];

export const PRECISIONS = ['fp32', 'fp16', 'bf16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** What an artifact is built for. */
export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];
