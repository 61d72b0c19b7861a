// Plain text tables for commands' human output: columns padded to their widest cell.

/**
 * A table as lines for a person: the header, then one line per row, each cell padded to its column's widest cell and
 * columns two spaces apart, trailing spaces trimmed. Every row has as many cells as the header.
 */
export function renderTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  return [header, ...rows].map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd(),
  )
}
