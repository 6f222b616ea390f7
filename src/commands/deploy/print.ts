import { checkFailed } from '../../errors.js';
import type { DeployResult } from '../../deploy/deploy.js';
import type { ManifestFormat } from './command.js';
import type { LintFinding } from '../../deploy/lint/index.js';
import type { Output } from '../../ui/output.js';
import { renderTable } from '../../ui/table.js';

function summary(result: DeployResult): Record<string, unknown> {
  return {
    name: result.name,
    namespace: result.namespace,
    out: result.out,
    files: result.files,
    objects: result.objects.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name })),
    storage: result.storage,
    replicas: result.replicas,
    autoscaling: result.graph ? null : result.autoscaling,
    graph: result.graph,
    timing: result.timing,
    capacityPlan: result.capacityPlan,
    notes: result.notes,
    apply: result.apply,
  };
}

function explain(result: DeployResult): string[] {
  const t = result.timing;
  const a = result.autoscaling;
  const lines = [
    `startup probe: ${t.startupFailureThreshold} × ${t.startupPeriodSeconds} s = ${t.startupBudgetSeconds} s (${t.startupBudgetSource}; model load from ${t.modelLoadSource})`,
    `drain: preStop ${t.preStopSeconds} s, terminationGracePeriodSeconds ${t.terminationGracePeriodSeconds} s`,
  ];
  // A graph scales node by node: its per-node lines are in the notes, the single-server line would mislead.
  if (result.graph)
    lines.push(
      `inference graph (${result.graph.runtime}): ${result.graph.components.length} nodes, each scaled on its own (see the notes)`,
    );
  else if (a.engine === 'none') lines.push(`replicas: ${result.replicas.min} (no autoscaler)`);
  else {
    lines.push(
      `autoscaling (${a.engine}): ${result.replicas.min}–${result.replicas.max} replicas on ${a.metric}, target ${a.target}; scale-down window ${t.scaleDownStabilizationSeconds} s`,
      `  query: ${a.query}`,
    );
  }
  if (result.capacityPlan) lines.push('capacity plan:', ...result.capacityPlan.lines.map((l) => `  ${l}`));
  for (const note of result.notes) lines.push(`note: ${note}`);
  if (result.apply) {
    lines.push(
      `kubectl (context ${result.apply.context})${result.apply.dryRun ? `, dry run ${result.apply.dryRun}` : ''}:`,
    );
    lines.push(...result.apply.changes.map((c) => `  ${c.object} ${c.action}`));
  }
  return lines;
}

/** `format`: stream the manifests on stdout (`-o yaml|json`), or null to print the summary there. */
export function printDeploy(output: Output, result: DeployResult, format: ManifestFormat | null): void {
  if (output.json) {
    output.result({ ...summary(result), ...(format ? { manifests: result.objects } : {}) }, () => '');
    return;
  }
  if (format) {
    output.stdout.write(format === 'yaml' ? result.yaml : result.json);
    for (const line of explain(result)) output.info(line);
    return;
  }
  output.result(summary(result), () => {
    const rows = result.objects.map((o) => [o.kind, o.metadata.name, o.apiVersion]);
    const parts = [renderTable(['kind', 'name', 'apiVersion'], rows), ...explain(result)];
    if (result.out) parts.push(`written to ${result.out}`);
    return parts.join('\n');
  });
}

export function printLint(output: Output, findings: LintFinding[], objects: number): void {
  if (findings.length === 0) {
    output.result({ objects, findings }, () => `${objects} object(s): no findings`);
    return;
  }
  if (!output.json) {
    const rows = findings.map((f) => [f.object, f.rule, f.message, f.mirrors.join(' ')]);
    output.stdout.write(`${renderTable(['object', 'rule', 'finding', 'mirrors'], rows)}\n`);
  }
  // With --json the error document carries the findings: exactly one JSON document on stdout.
  throw checkFailed(`lint: ${findings.length} finding(s) in ${objects} object(s)`, 'LINT_FAILED', {
    details: { objects, findings },
  });
}
