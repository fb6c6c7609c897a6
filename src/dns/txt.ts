// TXT record text in zone-file form: split into character-strings of at most 255 bytes (RFC 1035
// 3.3.14: each string carries a one-byte length) and quoted with `"` and `\` escaped.

export const MAX_TXT_STRING = 255;

/** Splits text into strings of at most 255 bytes, never inside a UTF-8 sequence. */
export function splitTxt(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) return [''];
  const parts: string[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(start + MAX_TXT_STRING, bytes.length);
    // Back off continuation bytes (10xxxxxx) so a multi-byte character stays whole.
    while (end < bytes.length && end > start && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
    parts.push(bytes.subarray(start, end).toString('utf8'));
    start = end;
  }
  return parts;
}

/** One character-string in zone-file syntax: quoted; `"` and `\` escaped; other bytes outside printable ASCII as \DDD. */
export function quoteTxtString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte < 0x20 || byte > 0x7e) out += `\\${byte.toString().padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return `${out}"`;
}

/** The RDATA of a TXT record in zone-file syntax: `"part1" "part2"`. */
export function txtRdata(text: string): string {
  return splitTxt(text).map(quoteTxtString).join(' ');
}

/** Parses zone-file TXT RDATA (`"a" "b"`, as printed by kdig or named) back into the joined text. */
export function parseTxtRdata(rdata: string): string {
  const parts: number[] = [];
  let i = 0;
  const src = rdata.trim();
  while (i < src.length) {
    if (src[i] === ' ' || src[i] === '\t') {
      i++;
      continue;
    }
    const quoted = src[i] === '"';
    if (quoted) i++;
    while (i < src.length && (quoted ? src[i] !== '"' : src[i] !== ' ')) {
      if (src[i] === '\\') {
        const digits = /^\d{3}/.exec(src.slice(i + 1));
        if (digits) {
          parts.push(Number(digits[0]));
          i += 4;
        } else {
          parts.push(src.charCodeAt(i + 1));
          i += 2;
        }
      } else {
        parts.push(...Buffer.from(src[i] ?? '', 'utf8'));
        i++;
      }
    }
    if (quoted) i++;
  }
  return Buffer.from(parts).toString('utf8');
}
