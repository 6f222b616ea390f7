import {
  kubectlApply,
  kubectlContext,
  type AppliedChange,
  type ApplySource,
  type DryRunMode,
} from '../proc/kubectl.js';

export interface ApplyOptions {
  source: ApplySource;
  context?: string | undefined;
  /** Only this dry run; without it, a server-side dry run first, then the apply. */
  dryRun?: DryRunMode | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((message: string) => void) | undefined;
}

export interface ApplyResult {
  context: string;
  dryRun: DryRunMode | null;
  steps: { argv: string[]; changes: AppliedChange[] }[];
  /** What the last step did to each object. */
  changes: AppliedChange[];
}

/**
 * Applies with kubectl. The server-side dry run goes first so admission webhooks and missing CRDs (KEDA, Prometheus
 * Operator) fail before anything is changed.
 */
export async function applyManifests(options: ApplyOptions): Promise<ApplyResult> {
  const run = { signal: options.signal };
  const context = await kubectlContext(options.context, run);
  const steps: ApplyResult['steps'] = [];
  const modes: (DryRunMode | undefined)[] = options.dryRun ? [options.dryRun] : ['server', undefined];
  for (const dryRun of modes) {
    options.onProgress?.(
      dryRun ? `kubectl apply --dry-run=${dryRun} (context ${context})` : `kubectl apply (context ${context})`,
    );
    const { plan, changes } = await kubectlApply({ source: options.source, context: options.context, dryRun }, run);
    steps.push({ argv: [plan.file, ...plan.argv], changes });
  }
  return { context, dryRun: options.dryRun ?? null, steps, changes: steps[steps.length - 1]!.changes };
}
