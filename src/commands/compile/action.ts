import { compile } from '../../compile/index.js';
import type { CompileOptions } from '../../compile/types.js';
import type { CommandContext } from '../context.js';
import { precedence } from '../precedence.js';
import type { CompileFlags } from './command.js';
import { planDocument, renderCompiled, renderPlan } from './print.js';

/** `llmops compile`: flags over config `compile:` over defaults → compile → the plan (--dry-run) or the manifest. */
export async function runCompile(ctx: CommandContext, flags: CompileFlags): Promise<void> {
  const { config } = await ctx.config();
  const configuredModel = typeof config.model === 'string' ? config.model : (config.model?.path ?? config.model?.id);
  const configuredRevision = typeof config.model === 'object' ? config.model.revision : undefined;
  const { force, dryRun, ...settings } = flags;
  const spinner = dryRun ? null : await ctx.output.spinner('compiling');
  try {
    const merged = precedence<CompileOptions>(settings, config.compile, {
      model: configuredModel,
      revision: configuredRevision,
    });
    const result = await compile({
      ...merged,
      backend: merged.backend ?? 'ort',
      name: config.name,
      force: Boolean(force),
      dryRun: Boolean(dryRun),
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
    if (result.dryRun) ctx.output.result(planDocument(result), () => renderPlan(result));
    else ctx.output.result(result.manifest!, () => renderCompiled(result.manifest!, result.out));
  } catch (error) {
    spinner?.stop();
    throw error;
  }
}
