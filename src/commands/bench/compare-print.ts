import type { EndpointComparison } from '../../bench/endpoint/compare.js';
import { fmt, renderTable } from '../../ui/table.js';

/** Two endpoint runs level by level: A, B (with 95% intervals where repeated), the change and whether it is real. */
export function renderComparison(
  comparison: EndpointComparison,
  options: { a: string; b: string; color?: boolean },
): string {
  const { a, b } = options;
  const value = (x: number | null, ci?: [number, number]) =>
    x === null ? '—' : `${fmt(x, 2)}${ci ? ` [${fmt(ci[0], 2)}, ${fmt(ci[1], 2)}]` : ''}`;
  return [
    `A: ${a} (${comparison.a.target}, ${comparison.a.repeats} run${comparison.a.repeats > 1 ? 's' : ''}) · B: ${b} (${comparison.b.target}, ${comparison.b.repeats} run${comparison.b.repeats > 1 ? 's' : ''})`,
    renderTable(
      ['load', 'metric', 'A', 'B', 'B vs A', 'intervals apart'],
      comparison.rows.map((row) => [
        row.level,
        row.metric,
        value(row.a, row.aCi95),
        value(row.b, row.bCi95),
        row.change === null ? '—' : `${row.change >= 0 ? '+' : ''}${fmt(row.change * 100, 1)}%`,
        row.significant === null ? '—' : row.significant ? 'yes' : 'no',
      ]),
      { color: options.color },
    ),
    ...(comparison.onlyInA.length + comparison.onlyInB.length > 0
      ? [`only in A: ${comparison.onlyInA.join(', ') || 'none'}; only in B: ${comparison.onlyInB.join(', ') || 'none'}`]
      : []),
  ].join('\n');
}
