import type { Backend, BackendName } from '../types.js';
import { optimumBackend } from './optimum.js';
import { ortBackend } from './ort.js';
import { tensorrtBackend } from './tensorrt.js';
import { tensorrtLlmBackend } from './tensorrt-llm.js';

export const BACKENDS: Record<BackendName, Backend> = {
  ort: ortBackend,
  optimum: optimumBackend,
  tensorrt: tensorrtBackend,
  'tensorrt-llm': tensorrtLlmBackend,
};
