import { copyFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { LlmopsError, usageError } from '../../errors.js';
import { createSession, loadOrt } from '../../engine/session.js';
import { locateModelFiles } from '../../engine/model-files.js';
import { compareWithSource } from '../validate.js';
import type { Backend, BackendContext, BackendResult } from '../types.js';

/** ONNX Runtime levels; only `basic` rewrites are independent of the execution provider and the CPU. */
const LEVELS = {
  disabled: { ort: 'disabled', portable: true },
  basic: { ort: 'basic', portable: true },
  extended: { ort: 'extended', portable: false },
  all: { ort: 'all', portable: false },
} as const;
type Level = keyof typeof LEVELS;

// Files a model directory carries besides the graph: the engine, scaffold and transformers.js read them.
const SIDE_FILES =
  /^(config|generation_config|tokenizer|tokenizer_config|special_tokens_map|preprocessor_config|added_tokens|vocab|merges|chat_template)\.(json|txt|jinja)$/;

export const ortBackend: Backend = {
  name: 'ort',

  unsupported(_config, options) {
    if (options.precision !== 'fp32')
      return `the ort backend optimizes the graph as it is (fp32); for ${options.precision}, export with --backend optimum --precision ${options.precision}`;
    if (options.device !== 'cpu')
      return 'the ort backend optimizes portably on the CPU; GPU-specific builds use --backend tensorrt';
    return null;
  },

  async plan(context) {
    const level = parseLevel(context.options.optimize);
    return [
      {
        name: 'ort-optimize',
        kind: 'internal',
        description: `onnxruntime-node: optimize the graph at level ${level} (in-process) → ${path.join(context.outDir, 'model.onnx')}`,
      },
      {
        name: 'validate',
        kind: 'internal',
        description: 'compare logits and greedy tokens of the optimized model with the source',
      },
    ];
  },

  async run(context: BackendContext): Promise<BackendResult> {
    const level = parseLevel(context.options.optimize);
    const files = await locateModelFiles(context.sourceDir);
    const externalData = (await readdir(path.dirname(files.onnxPath))).includes(
      `${path.basename(files.onnxPath)}_data`,
    );
    const target = path.join(context.workDir, 'model.onnx');
    const session = await createSession(files.onnxPath, {
      graphOptimizationLevel: LEVELS[level].ort,
      optimizedModelFilePath: target,
      ...(externalData ? { externalInitializersFile: 'model.onnx_data' } : {}),
    });
    await session.release();
    for (const name of await readdir(context.sourceDir)) {
      if (SIDE_FILES.test(name)) await copyFile(path.join(context.sourceDir, name), path.join(context.workDir, name));
    }
    context.options.onProgress?.('validating the optimized model against the source');
    const validation = await compareWithSource(context.sourceDir, context.workDir);
    if (!validation.passed) {
      throw new LlmopsError(
        validation.greedyMatch
          ? `the optimized model does not match its source: max |Δlogit| ${validation.maxAbsDiff} > ${validation.tolerance} (${validation.atol} + ${validation.rtol} × max |logit| ${validation.logitScale})`
          : `the optimized model does not match its source: its greedy continuation differs (max |Δlogit| ${validation.maxAbsDiff}, allowed ${validation.tolerance})`,
        'VALIDATION_FAILED',
        { hint: 'try a lower --optimize level', details: { validation } },
      );
    }
    const ort = await loadOrt();
    return {
      tools: { 'onnxruntime-node': ort.env.versions.common ?? 'unknown' },
      hardware: { portable: LEVELS[level].portable, device: 'cpu', gpu: null },
      validation: { ...validation },
      options: { optimizationLevel: level, portable: LEVELS[level].portable, externalData },
      warnings: LEVELS[level].portable
        ? []
        : [
            `optimization level ${level} is specific to this CPU and ONNX Runtime's CPU provider (recorded as not portable)`,
          ],
    };
  },
};

function parseLevel(value: string | undefined): Level {
  const level = (value ?? 'basic') as Level;
  if (!(level in LEVELS))
    throw usageError(
      `--optimize for the ort backend must be one of ${Object.keys(LEVELS).join(', ')}, got \`${value}\``,
      'INVALID_OPTION',
    );
  return level;
}
