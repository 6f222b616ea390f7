import { redactSecrets } from '../../config/index.js';
import type { CommandContext } from '../context.js';
import { renderConfig } from './print.js';

/** `llmops config`: the configuration every command would see, where each part came from, secrets redacted. */
export async function runConfig(ctx: CommandContext): Promise<void> {
  const loaded = await ctx.config();
  const document = { file: loaded.file, fromEnv: loaded.fromEnv, config: redactSecrets(loaded.config) };
  ctx.output.result(document, () => renderConfig(document));
}
