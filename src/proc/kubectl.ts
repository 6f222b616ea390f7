import { usageError } from '../errors.js';
import { runPlan, ToolFailedError, type CommandPlan, type RunPlanOptions, type RunPlanResult } from './exec.js';

/** `kubectl apply --dry-run=MODE`: validated and admitted by the API server, or by kubectl alone. */
export const DRY_RUN_MODES = ['server', 'client'] as const;
export type DryRunMode = (typeof DRY_RUN_MODES)[number];

/** Where the manifests to apply are: plain files, or a kustomize directory. */
export type ApplySource = { files: string[] } | { kustomize: string };

export interface KubectlApplySpec {
  source: ApplySource;
  /** kubeconfig context; the current context when absent. */
  context?: string | undefined;
  /** A dry run (`--dry-run=server` asks the API server to validate and admit without persisting). */
  dryRun?: DryRunMode | undefined;
}

function contextArgs(context: string | undefined): string[] {
  return context ? ['--context', context] : [];
}

/** `kubectl config current-context`, or a lookup of the named context. */
export function kubectlContextPlan(context?: string): CommandPlan {
  return context
    ? { name: 'kubectl-context', file: 'kubectl', argv: ['config', 'get-contexts', context, '-o', 'name'] }
    : { name: 'kubectl-context', file: 'kubectl', argv: ['config', 'current-context'] };
}

/** `kubectl apply` with llmops as the field manager, so later applies by llmops own the fields they set. */
export function kubectlApplyPlan(spec: KubectlApplySpec): CommandPlan {
  const source =
    'files' in spec.source ? spec.source.files.flatMap((file) => ['-f', file]) : ['-k', spec.source.kustomize];
  const argv = [...contextArgs(spec.context), 'apply', ...source, '--field-manager', 'llmops'];
  if (spec.dryRun) argv.push(`--dry-run=${spec.dryRun}`);
  return { name: spec.dryRun ? `kubectl-apply-dry-run-${spec.dryRun}` : 'kubectl-apply', file: 'kubectl', argv };
}

export interface AppliedChange {
  /** `deployment.apps/tiny-gpt` as kubectl names it. */
  object: string;
  /** created, configured, unchanged, … */
  action: string;
}

/** Parses kubectl apply's `<resource>/<name> <action>[ (server dry run)]` lines. */
export function parseApplyOutput(stdout: string): AppliedChange[] {
  const changes: AppliedChange[] = [];
  for (const line of stdout.split('\n')) {
    const match =
      /^(\S+\/\S+) (created|configured|unchanged|serverside-applied|pruned)(?: \((?:server|client) dry run\))?\s*$/.exec(
        line.trim(),
      );
    if (match) changes.push({ object: match[1]!, action: match[2]! });
  }
  return changes;
}

/** Resolves the context kubectl will use; a missing kubeconfig context is the user's to fix (exit 2). */
export async function kubectlContext(context: string | undefined, options: RunPlanOptions = {}): Promise<string> {
  const plan = kubectlContextPlan(context);
  try {
    const result = await runPlan(plan, options);
    const name = result.stdout.trim().split('\n')[0]?.trim();
    if (!name) throw new Error('empty');
    return name;
  } catch (error) {
    if (error instanceof ToolFailedError || (error instanceof Error && error.message === 'empty')) {
      throw usageError(
        context
          ? `kubectl has no context \`${context}\` in its kubeconfig`
          : 'kubectl has no current context: no cluster is configured',
        'KUBECTL_NO_CONTEXT',
        {
          hint: context
            ? 'list them with `kubectl config get-contexts`'
            : 'pick one with --context or `kubectl config use-context NAME`',
        },
      );
    }
    throw error;
  }
}

export async function kubectlApply(
  spec: KubectlApplySpec,
  options: RunPlanOptions = {},
): Promise<{ plan: CommandPlan; result: RunPlanResult; changes: AppliedChange[] }> {
  const plan = kubectlApplyPlan(spec);
  const result = await runPlan(plan, options);
  return { plan, result, changes: parseApplyOutput(result.stdout) };
}
