import { z } from 'zod';

/** The `bench` section of llmops.yaml. */
export const benchSchema = z
  .object({
    /** GPU (or instance) price in USD per hour: bench results then give $ per million output tokens. */
    gpuPricePerHour: z.number().nonnegative().optional(),
    /** Default `--max-regression` of the gate, as a fraction (0.05 = 5%). */
    maxRegression: z.number().min(0).max(10).default(0.05),
  })
  .strict();

export type BenchConfig = z.infer<typeof benchSchema>;
