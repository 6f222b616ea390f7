import { compile } from '../../compile/index.js';
import { formatPlan } from '../../proc/exec.js';
import type { CommandContext } from '../context.js';
import type { CompileCommandOptions } from './command.js';

export async function runCompile(ctx: CommandContext, flags: CompileCommandOptions): Promise<void> {
  const { config } = await ctx.config();
  const section = config.compile;
  const configuredModel = typeof config.model === 'string' ? config.model : (config.model?.path ?? config.model?.id);
  const configuredRevision = typeof config.model === 'object' ? config.model.revision : undefined;
  const spinner = flags.dryRun ? null : await ctx.output.spinner('compiling');
  try {
    const result = await compile({
      model: flags.model ?? configuredModel,
      revision: flags.revision ?? configuredRevision,
      task: flags.task ?? section.task,
      precision: flags.precision ?? section.precision,
      optimize: flags.optimize ?? section.optimize,
      shapes: flags.shapes ?? section.shapes,
      image: flags.image ?? section.image,
      device: flags.device ?? section.device,
      opset: flags.opset ?? section.opset,
      out: flags.out ?? section.out,
      tensorrtMajor: section.tensorrtMajor,
      backend: flags.backend ?? section.backend ?? 'ort',
      name: config.name,
      force: Boolean(flags.force),
      dryRun: Boolean(flags.dryRun),
      command: ['llmops', ...process.argv.slice(2)],
      hub: config.hub,
      signal: ctx.signal,
      onProgress: (message) => {
        spinner?.update(message);
        ctx.output.debug(message);
      },
    });
    spinner?.stop();
    for (const warning of result.warnings) ctx.output.warn(warning);
    if (result.dryRun) {
      ctx.output.result({ backend: result.backend, steps: result.steps, out: result.out }, () =>
        [
          `# llmops compile --backend ${result.backend} → ${result.out} (dry run: nothing was run)`,
          ...result.steps.map((step) =>
            step.argv.length
              ? formatPlan({ name: step.name, file: step.argv[0]!, argv: step.argv.slice(1) })
              : `# ${step.name} (in-process)`,
          ),
        ].join('\n'),
      );
      return;
    }
    const manifest = result.manifest!;
    ctx.output.result(manifest, () => {
      const bytes = manifest.files.reduce((sum, file) => sum + file.bytes, 0);
      const validation = manifest.validation as { maxAbsDiff?: number; greedyMatch?: boolean } | null;
      return [
        `compiled ${manifest.source.model} with ${manifest.backend} (${manifest.precision}) → ${result.out}`,
        `  files: ${manifest.files.length} (${(bytes / 1e6).toFixed(1)} MB), manifest ${result.out}/llmops.json`,
        `  tools: ${Object.entries(manifest.tools)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        `  hardware: ${manifest.hardware.portable ? 'portable' : 'specific to this hardware'} (${manifest.hardware.device}${manifest.hardware.gpu ? `, ${manifest.hardware.gpu.name}` : ''})`,
        `  validation: ${manifest.validation?.passed ? 'passed' : 'FAILED'}${validation?.maxAbsDiff !== undefined ? ` (max |Δlogit| ${validation.maxAbsDiff}, greedy tokens ${validation.greedyMatch ? 'identical' : 'differ'})` : ''}`,
      ].join('\n');
    });
  } catch (error) {
    spinner?.stop();
    throw error;
  }
}
