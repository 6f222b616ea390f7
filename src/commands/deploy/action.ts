import { deploy, lintObjects, readManifests } from '../../deploy/index.js';
import type { CommandContext } from '../context.js';
import type { DeployFlags } from './command.js';
import { printDeploy, printLint } from './print.js';

/** `llmops deploy`: config + flags → manifests, written, applied or printed (`-o`, else a summary when written). */
export async function runDeploy(ctx: CommandContext, flags: DeployFlags): Promise<void> {
  const { output, ...options } = flags;
  const loaded = await ctx.config();
  const result = await deploy({
    ...options,
    config: loaded.config,
    signal: ctx.signal,
    onProgress: (message) => ctx.output.info(message),
  });
  printDeploy(ctx.output, result, output ?? (flags.out || flags.apply ? null : 'yaml'));
}

/** `llmops deploy lint PATHS…`: deploy's rules over any manifests; findings are a failed check (exit 3). */
export async function runLint(ctx: CommandContext, flags: { ignore?: string[] }, paths: string[]): Promise<void> {
  const inputs = await readManifests(paths);
  const findings = lintObjects(inputs, { ignore: flags.ignore ?? [] });
  printLint(ctx.output, findings, inputs.length);
}
