import { z } from 'zod';
import { COMPILE_BACKENDS, DEVICES, PRECISIONS } from '../artifact/compile-choices.js';

/** The `compile:` section of llmops.yaml; flags override each key. */
export const compileSchema = z
  .object({
    backend: z.enum(COMPILE_BACKENDS).optional(),
    task: z.string().min(1).optional(),
    precision: z.enum(PRECISIONS).optional(),
    optimize: z.string().min(1).optional(),
    shapes: z.string().min(1).optional(),
    image: z.string().min(1).optional(),
    device: z.enum(DEVICES).optional(),
    opset: z.number().int().min(7).optional(),
    out: z.string().min(1).optional(),
    /** TensorRT major version of the image, which decides trtexec's flags. */
    tensorrtMajor: z.number().int().min(8).optional(),
  })
  .strict();
