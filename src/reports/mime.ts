// Just enough MIME (RFC 2045/2046) to find the attachments of a report message: headers with
// folded lines, nested multipart bodies, base64 and quoted-printable. Untrusted input: nesting is
// bounded, and anything it does not understand becomes an opaque part instead of an exception.

export interface MimePart {
  /** Lower-case type and subtype, e.g. "application/gzip"; "text/plain" when the part has none. */
  contentType: string;
  /** The attachment's file name (filename= or name=), if it has one. */
  filename: string | undefined;
  /** The decoded body. */
  body: Buffer;
}

export interface ParsedMessage {
  headers: Map<string, string>;
  /** Every leaf part, in order (the message itself when it is not multipart). */
  parts: MimePart[];
}

const MAX_DEPTH = 8;
const MAX_PARTS = 64;

export function parseMessage(raw: Buffer): ParsedMessage {
  const { headers, body } = splitHeaders(raw);
  const parts: MimePart[] = [];
  collectParts(headers, body, 0, parts);
  return { headers, parts };
}

/** Header names lower-cased; a repeated header keeps its first value. Unfolded, undecoded. */
function splitHeaders(raw: Buffer): { headers: Map<string, string>; body: Buffer } {
  let end = raw.indexOf('\r\n\r\n');
  let sep = 4;
  const lf = raw.indexOf('\n\n');
  if (end < 0 || (lf >= 0 && lf < end)) {
    end = lf;
    sep = 2;
  }
  const head = (end < 0 ? raw : raw.subarray(0, end)).toString('latin1');
  const body = end < 0 ? Buffer.alloc(0) : raw.subarray(end + sep);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** The value and parameters of a structured header like Content-Type. */
export function headerParams(value: string | undefined): { value: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  if (value === undefined) return { value: '', params };
  const semi = value.indexOf(';');
  const main = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const re = /;\s*([A-Za-z0-9_.*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = (m[1] ?? '').toLowerCase().replace(/\*$/, '');
    if (!params.has(key)) params.set(key, m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? ''));
  }
  return { value: main, params };
}

function collectParts(headers: Map<string, string>, body: Buffer, depth: number, out: MimePart[]): void {
  if (out.length >= MAX_PARTS) return;
  const type = headerParams(headers.get('content-type'));
  const boundary = type.params.get('boundary');
  if (type.value.startsWith('multipart/') && boundary && depth < MAX_DEPTH) {
    for (const chunk of splitMultipart(body, boundary)) {
      const part = splitHeaders(chunk);
      collectParts(part.headers, part.body, depth + 1, out);
    }
    return;
  }
  const disposition = headerParams(headers.get('content-disposition'));
  out.push({
    contentType: type.value || 'text/plain',
    filename: disposition.params.get('filename') ?? type.params.get('name'),
    body: decodeBody(body, (headers.get('content-transfer-encoding') ?? '').trim().toLowerCase()),
  });
}

/** The bodies between the boundary delimiter lines, found on the bytes (no copy of a large body). */
function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  const chunks: Buffer[] = [];
  let start = -1;
  let pos = 0;
  for (let at = body.indexOf(delimiter, pos); at >= 0; at = body.indexOf(delimiter, pos)) {
    const after = at + delimiter.length;
    const closing = body[after] === 0x2d && body[after + 1] === 0x2d;
    let eol = body.indexOf(0x0a, after);
    if (eol < 0) eol = body.length;
    // A delimiter starts a line and has nothing but white space after it.
    const rest = body.subarray(closing ? after + 2 : after, eol).toString('latin1');
    if ((at !== 0 && body[at - 1] !== 0x0a) || rest.trim() !== '') {
      pos = after;
      continue;
    }
    if (start >= 0) {
      // The line break before the delimiter belongs to it.
      let end = at - 1;
      if (end > start && body[end - 1] === 0x0d) end--;
      chunks.push(body.subarray(start, Math.max(start, end)));
    }
    if (closing) return chunks;
    start = eol + 1;
    pos = start;
  }
  if (start >= 0 && start < body.length) chunks.push(body.subarray(start));
  return chunks;
}

function decodeBody(body: Buffer, encoding: string): Buffer {
  // Node's decoder skips the line breaks.
  if (encoding === 'base64') return Buffer.from(body.toString('latin1'), 'base64');
  if (encoding === 'quoted-printable') {
    const text = body.toString('latin1').replace(/=\r?\n/g, '');
    return Buffer.from(text.replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  }
  return body;
}

/** A header value with RFC 2047 encoded words decoded (UTF-8 and Latin-1 charsets; others kept as they are). */
export function decodeWords(value: string): string {
  return value.replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=(?:\s+(?==\?))?/g, (whole, charset: string, enc: string, text: string) => {
    const cs = charset.toLowerCase().replace(/\*.*$/, '');
    if (cs !== 'utf-8' && cs !== 'us-ascii' && cs !== 'iso-8859-1') return whole;
    const bytes =
      enc.toLowerCase() === 'b'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    return bytes.toString(cs === 'utf-8' ? 'utf8' : 'latin1');
  });
}
