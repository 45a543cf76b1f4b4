// Plain-text table with padded columns; numbers read best right-aligned.

export interface Column {
  header: string;
  align: 'left' | 'right';
}

/** Rows of null print as blank separator lines. */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[] | null)[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => r?.[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (columns[i]!.align === 'right' ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(columns.map((c) => c.header)), rule, ...rows.map((r) => (r ? line(r) : ''))].join('\n') + '\n';
}
