// Building shell commands safely: every value that is not a literal of ours goes through quote().

/** A POSIX shell single-quoted word. */
export function quote(value: string): string {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function quoteAll(values: string[]): string {
  return values.map(quote).join(' ');
}
