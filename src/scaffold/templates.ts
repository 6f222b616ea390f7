import { SERVER_TEMPLATES, type ServerTemplate } from '../servers/catalog.js';

/** The scaffold templates: real files under templates/<name>/, plus what each project is wired with. */
export interface TemplateInfo {
  name: TemplateName;
  description: string;
  /** Copies llmops's engine into src/engine (the node server runs it without depending on llmops). */
  vendorEngine: boolean;
  /** Copies a local model into the project (a Hub model is referenced in llmops.yaml). */
  copyModel: boolean;
  /** Serves Hugging Face Transformers checkpoints (not llmops's ONNX models): the embedded model cannot be its default. */
  servesCheckpoints?: boolean;
  /** Where in the project the model goes, and which of its files (default: all, into model/). */
  modelTarget?: (name: string) => { dir: string; files: RegExp };
  /** The files of templates/_shared this template uses. */
  shared: string[];
  /** Upstream status worth telling users. */
  note?: string;
}

/** One template per server llmops knows: deploy reads `serve.template` against the same list. */
export const TEMPLATE_NAMES = SERVER_TEMPLATES;
export type TemplateName = ServerTemplate;

const ALL_SHARED = ['locustfile.py', '_github/workflows/llmops.yml'];
/** vLLM, TGI and TensorRT-LLM projects share one Dockerfile over their pinned image. */
const ENGINE_SHARED = [...ALL_SHARED, 'Dockerfile'];

export const TEMPLATES: Record<TemplateName, TemplateInfo> = {
  node: {
    name: 'node',
    description:
      'TypeScript ONNX server (runs out of the box): OpenAI API, SSE streaming, continuous batching, keys, rate limits, metrics',
    vendorEngine: true,
    copyModel: true,
    shared: ALL_SHARED,
  },
  fastapi: {
    name: 'fastapi',
    description:
      "FastAPI + Optimum ONNX Runtime: the book's service done right (streaming, hashed keys, slowapi, metrics)",
    vendorEngine: false,
    copyModel: true,
    shared: ALL_SHARED,
  },
  vllm: {
    name: 'vllm',
    description: 'vLLM OpenAI-compatible server: container and engine arguments from llmops.yaml',
    vendorEngine: false,
    copyModel: true,
    servesCheckpoints: true,
    shared: ENGINE_SHARED,
  },
  tgi: {
    name: 'tgi',
    description: 'Hugging Face Text Generation Inference (upstream in maintenance mode; prefer vllm)',
    vendorEngine: false,
    copyModel: true,
    servesCheckpoints: true,
    shared: ENGINE_SHARED,
    note: 'TGI is in maintenance mode upstream; prefer --template vllm for new services',
  },
  trtllm: {
    name: 'trtllm',
    description: 'TensorRT-LLM trtllm-serve (compiles at serve time), OpenAI-compatible',
    vendorEngine: false,
    copyModel: true,
    servesCheckpoints: true,
    shared: ENGINE_SHARED,
  },
  triton: {
    name: 'triton',
    description: 'Triton Inference Server model repository (ONNX Runtime or TensorRT plan) with dynamic batching',
    vendorEngine: false,
    copyModel: true,
    // Triton's layout: <repository>/<model>/<version>/model.onnx|model.plan (external data beside it).
    modelTarget: (name) => ({ dir: `model_repository/${name}/1`, files: /^model\.(onnx|onnx_data|plan)$/ }),
    shared: ['_github/workflows/llmops.yml'],
  },
};
