import { Command, InvalidArgumentError, Option } from 'commander';
import type { DeployOptions } from '../../deploy/deploy.js';
import { EMITS, type Emit } from '../../deploy/emit.js';
import { DRY_RUN_MODES } from '../../proc/kubectl.js';
import { action } from '../context.js';
import { collect, positiveNumber } from '../flag-parsers.js';

/** `-o FORMAT`: the manifests on stdout as one YAML stream or a JSON list. */
export const MANIFEST_FORMATS = ['yaml', 'json'] as const;
export type ManifestFormat = (typeof MANIFEST_FORMATS)[number];

/** The deploy flags: the library's options of the same names, and `-o` for where the manifests go. */
export type DeployFlags = Pick<
  DeployOptions,
  'out' | 'kustomize' | 'force' | 'image' | 'fromBench' | 'peakQps' | 'apply' | 'dryRun' | 'context'
> & {
  output?: ManifestFormat;
  emit?: Emit[];
};

const EXAMPLES = `
Examples:
  $ llmops deploy --image ghcr.io/acme/tiny-gpt-server:1.4.2 -o yaml
  $ llmops deploy --out k8s --kustomize && kubectl apply -k k8s/overlays/production
  $ llmops deploy --out k8s --from-bench endpoint.json --from-bench engine.json --peak-qps 120
  $ llmops deploy --out k8s --emit nap
  $ llmops deploy --apply --dry-run=server --context staging
  $ llmops deploy lint k8s/ other-manifests.yaml
`;

export function deployCommand(): Command {
  const command = new Command('deploy')
    .description(
      'Kubernetes manifests for GPU serving from llmops.yaml, bench results and the artifact: validated, linted, written or applied',
    )
    .option('--out <dir>', 'write one file per object into DIR (atomically; existing DIR needs --force)')
    .addOption(
      new Option('-o, --output <format>', 'print the manifests on stdout').choices(MANIFEST_FORMATS).conflicts('out'),
    )
    .option('--kustomize', 'with --out: base/ + overlays/<environment>/ kustomize layout')
    .option('--force', 'replace an existing --out directory')
    .option('--image <image>', 'server image (pinned tag or digest), over serve.image')
    .option(
      '--from-bench <file>',
      'bench result JSON: endpoint (capacity plan) or engine (model load time); repeatable',
      collect,
    )
    .option('--peak-qps <n>', 'peak requests/s the capacity plan sizes replicas.max for', positiveNumber)
    .addOption(
      new Option(
        '--emit <what>',
        'also write: nap (GKE node auto-provisioning config), compile-job (a Job compiling on the GPU pool; implied by deploy.compileJob.image); repeatable',
      ).argParser(collectEmit),
    )
    .option('--apply', 'apply with kubectl (a server-side dry run first)')
    .addOption(new Option('--dry-run <mode>', 'with --apply: only this dry run').choices(DRY_RUN_MODES))
    .option('--context <ctx>', 'kubeconfig context for --apply')
    .addHelpText('after', EXAMPLES)
    .action(
      action<DeployFlags>(async (ctx, flags) => {
        const { runDeploy } = await import('./action.js');
        await runDeploy(ctx, flags);
      }),
    );
  command.addCommand(lintCommand());
  return command;
}

/** `--emit` is repeatable, so it collects; commander's `.choices()` would keep only the last value. */
function collectEmit(value: string, previous: Emit[] | undefined): Emit[] {
  if (!(EMITS as readonly string[]).includes(value))
    throw new InvalidArgumentError(`Expected ${EMITS.join(' or ')}, got \`${value}\`.`);
  return [...(previous ?? []), value as Emit];
}

function lintCommand(): Command {
  return new Command('lint')
    .description(
      'lint Kubernetes manifests (files or directories) with the rules deploy applies to its own output; exit 3 on findings',
    )
    .argument('<paths...>', 'YAML/JSON files or directories')
    .option('--ignore <rule>', 'skip a rule (llmops id or mirrored check id); repeatable', collect)
    .addHelpText(
      'after',
      '\nSuppress per object with kube-score/ignore, polaris.fairwinds.com/<check>-exempt, ignore-check.kube-linter.io/<check> or llmops.dev/lint-ignore annotations.\n\nExamples:\n  $ llmops deploy lint k8s/\n  $ llmops deploy lint deployment.yaml --ignore image-pull-policy --json\n',
    )
    .action(
      action<{ ignore?: string[] }, [string[]]>(async (ctx, flags, paths) => {
        const { runLint } = await import('./action.js');
        await runLint(ctx, flags, paths);
      }),
    );
}
