import type { GateResult } from '../../bench/gate.js';
import { fmt, renderTable } from '../../ui/table.js';

/** The regression table printed when a gate runs: every compared metric, regressions marked. */
export function renderGate(gate: GateResult, options: { color?: boolean; all?: boolean } = {}): string {
  const rows = (options.all ? gate.comparisons : gate.regressions).map((comparison) => [
    comparison.config,
    comparison.metric,
    fmt(comparison.baseline, 3),
    fmt(comparison.current, 3),
    `${comparison.worseBy >= 0 ? '+' : ''}${fmt(comparison.worseBy * 100, 1)}% ${comparison.worseBy >= 0 ? 'worse' : 'better'}`,
    `±${fmt(comparison.noise * 100, 1)}%`,
    comparison.regressed ? 'REGRESSED' : 'ok',
  ]);
  const verdict = gate.passed
    ? `gate passed: no metric worse than ${fmt(gate.maxRegression * 100, 1)}% beyond noise (${gate.comparisons.length} compared)`
    : `gate FAILED: ${gate.regressions.length} metric(s) worse than ${fmt(gate.maxRegression * 100, 1)}% beyond noise`;
  const lines = [verdict];
  if (rows.length > 0)
    lines.push(
      renderTable(['configuration', 'metric', 'baseline', 'current', 'change', 'noise', 'status'], rows, options),
    );
  if (gate.unmatched.current.length)
    lines.push(`not in the baseline (not compared): ${gate.unmatched.current.join('; ')}`);
  if (gate.unmatched.baseline.length) lines.push(`in the baseline only: ${gate.unmatched.baseline.join('; ')}`);
  return lines.join('\n');
}

/** The one line a failed gate adds on stderr (the table is in the result). */
export function gateFailure(gate: GateResult, baseline: string): string {
  return `bench gate failed: ${gate.regressions.length} metric(s) regressed more than ${Math.round(gate.maxRegression * 1000) / 10}% against ${baseline}`;
}
