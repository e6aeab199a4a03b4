/** CSV as spreadsheets read it (RFC 4180 quoting, CRLF line ends), for the admin API's exports. */

export type CsvCell = string | number | null;

/** A header row, then the rows; null is an empty cell. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return `${[header, ...rows].map((row) => row.map(cell).join(',')).join('\r\n')}\r\n`;
}

function cell(value: CsvCell): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  // A text cell a spreadsheet would run as a formula is kept as text.
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
