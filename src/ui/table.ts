import Table from 'cli-table3';

/** A bordered table for stdout; colour only for the header row and only when asked. */
export function renderTable(
  head: string[],
  rows: Array<Array<string | number>>,
  options: { color?: boolean } = {},
): string {
  const table = new Table({
    head,
    style: { head: options.color ? ['cyan'] : [], border: [] },
  });
  for (const row of rows) table.push(row.map((cell) => String(cell)));
  return table.toString();
}

/** Fixed-precision number formatting for tables ("—" for missing values). */
export function fmt(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return value.toFixed(digits);
}
