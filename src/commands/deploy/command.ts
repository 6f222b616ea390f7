import { Command, InvalidArgumentError, Option } from 'commander';
import { action } from '../context.js';
import { collect } from '../options.js';

export interface DeployCommandOptions {
  out?: string;
  output?: 'yaml' | 'json';
  kustomize?: boolean;
  force?: boolean;
  image?: string;
  fromBench?: string[];
  peakQps?: number;
  emit?: ('nap' | 'compile-job')[];
  apply?: boolean;
  dryRun?: 'server' | 'client';
  context?: string;
}

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
      new Option('-o, --output <format>', 'print the manifests on stdout').choices(['yaml', 'json']).conflicts('out'),
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
    .addOption(new Option('--dry-run <mode>', 'with --apply: only this dry run').choices(['server', 'client']))
    .option('--context <ctx>', 'kubeconfig context for --apply')
    .addHelpText('after', EXAMPLES)
    .action(
      action<DeployCommandOptions>(async (ctx, options) => {
        const { deploy } = await import('../../deploy/index.js');
        const { printDeploy } = await import('./print.js');
        const loaded = await ctx.config();
        const result = await deploy({
          config: loaded.config,
          image: options.image,
          fromBench: options.fromBench,
          peakQps: options.peakQps,
          emit: options.emit,
          out: options.out,
          kustomize: options.kustomize,
          force: options.force,
          apply: options.apply,
          dryRun: options.dryRun,
          context: options.context,
          signal: ctx.signal,
          onProgress: (message) => ctx.output.info(message),
        });
        printDeploy(ctx.output, result, options.output ?? (options.out || options.apply ? null : 'yaml'));
      }),
    );
  command.addCommand(lintCommand());
  return command;
}

function collectEmit(value: string, previous: string[] | undefined): string[] {
  if (value !== 'nap' && value !== 'compile-job')
    throw new InvalidArgumentError(`Expected nap or compile-job, got \`${value}\`.`);
  return [...(previous ?? []), value];
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`Expected a positive number, got \`${value}\`.`);
  return n;
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
      action<{ ignore?: string[] }, [string[]]>(async (ctx, options, paths) => {
        const { lintObjects, readManifests } = await import('../../deploy/index.js');
        const { printLint } = await import('./print.js');
        const inputs = await readManifests(paths);
        const findings = lintObjects(inputs, { ignore: options.ignore ?? [] });
        printLint(ctx.output, findings, inputs.length);
      }),
    );
}
