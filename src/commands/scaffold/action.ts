import path from 'node:path';
import { usageError } from '../../errors.js';
import { scaffold, TEMPLATES, TEMPLATE_NAMES } from '../../scaffold/index.js';
import type { CommandContext } from '../context.js';
import type { ScaffoldFlags } from './command.js';
import { nextSteps, renderCreated, renderTemplates } from './print.js';

/** `llmops scaffold DIR`: render the template into DIR and say what to run next; `--list`: the templates. */
export async function runScaffold(ctx: CommandContext, flags: ScaffoldFlags, dir: string | undefined): Promise<void> {
  if (flags.list) {
    const templates = TEMPLATE_NAMES.map((name) => ({ name, description: TEMPLATES[name].description }));
    ctx.output.result({ templates }, () => renderTemplates(templates, { color: ctx.output.options.color }));
    return;
  }
  if (!dir)
    throw usageError('missing the project directory', 'MISSING_ARGUMENT', {
      hint: 'llmops scaffold DIR [--template node]',
    });
  const result = await scaffold({
    dir,
    template: flags.template ?? 'node',
    ...(flags.model ? { model: flags.model } : {}),
    ...(flags.revision ? { revision: flags.revision } : {}),
    ...(flags.name ? { name: flags.name } : {}),
    force: Boolean(flags.force),
  });
  for (const note of result.notes) ctx.output.warn(note);
  const relative = path.relative(process.cwd(), result.dir).startsWith('..')
    ? result.dir
    : path.relative(process.cwd(), result.dir) || '.';
  const next = nextSteps(result.template, relative);
  ctx.output.result({ ...result, next }, () => renderCreated(result, relative, next));
}
