// Report attachments come gzip-compressed, zip-archived or plain. Untrusted: every step is capped
// before it allocates — the compressed size, what it inflates to (zlib stops at the cap, so a
// zip bomb costs at most the cap), and the number of zip entries. Only Node's zlib is used.
import { gunzipSync, inflateRawSync } from 'node:zlib';

export const LIMITS = {
  /** Largest attachment (decoded, still compressed) that is looked at. */
  attachmentBytes: 5 * 1024 * 1024,
  /** Largest report after decompression (per attachment, all zip entries together). */
  inflatedBytes: 32 * 1024 * 1024,
  /** A zip with more entries than this is refused unopened. */
  zipEntries: 8,
};

/** An attachment could not be used; the message says why, for a warning. */
export class UnpackError extends Error {
  override name = 'UnpackError';
}

export interface Document {
  /** Where it came from inside the attachment (zip entry name), for messages. */
  name: string;
  text: string;
}

export type Kind = 'gzip' | 'zip' | 'text';

export function sniff(data: Buffer): Kind {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) return 'gzip';
  if (data.length >= 4 && data.readUInt32LE(0) === 0x04034b50) return 'zip';
  return 'text';
}

/** A size for messages: 6.5 MiB. */
export const mib = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;

/** The documents inside one attachment: one for plain or gzip, one per file entry for zip. */
export function unpack(data: Buffer, name: string, limits = LIMITS): Document[] {
  if (data.length > limits.attachmentBytes) throw new UnpackError(`${name} is ${mib(data.length)}, more than the ${mib(limits.attachmentBytes)} mailrig reads`);
  const kind = sniff(data);
  if (kind === 'gzip') return [{ name, text: inflate(() => gunzipSync(data, { maxOutputLength: limits.inflatedBytes }), name, limits).toString('utf8') }];
  if (kind === 'zip') return unzip(data, name, limits);
  return [{ name, text: data.toString('utf8') }];
}

function inflate(run: () => Buffer, name: string, limits: typeof LIMITS): Buffer {
  try {
    return run();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new UnpackError(`${name} decompresses to more than ${mib(limits.inflatedBytes)} (a zip bomb?); not read`);
    }
    throw new UnpackError(`${name} is not valid compressed data: ${(e as Error).message}`);
  }
}

/** A zip read through its central directory; stored and deflated entries only, no encryption. */
function unzip(data: Buffer, name: string, limits: typeof LIMITS): Document[] {
  const eocd = findEndOfCentralDirectory(data);
  if (eocd < 0) throw new UnpackError(`${name} is not a readable zip archive (no end of central directory)`);
  const count = data.readUInt16LE(eocd + 10);
  const dirOffset = data.readUInt32LE(eocd + 16);
  if (count > limits.zipEntries) throw new UnpackError(`${name} is a zip with ${count} entries (more than ${limits.zipEntries}); not opened`);
  const docs: Document[] = [];
  let budget = limits.inflatedBytes;
  let p = dirOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > data.length || data.readUInt32LE(p) !== 0x02014b50) throw new UnpackError(`${name}: damaged zip central directory`);
    const flags = data.readUInt16LE(p + 8);
    const method = data.readUInt16LE(p + 10);
    const compressed = data.readUInt32LE(p + 20);
    const size = data.readUInt32LE(p + 24);
    const nameLen = data.readUInt16LE(p + 28);
    const extraLen = data.readUInt16LE(p + 30);
    const commentLen = data.readUInt16LE(p + 32);
    const local = data.readUInt32LE(p + 42);
    const entry = data.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (entry.endsWith('/')) continue;
    const label = `${name}:${entry}`;
    if (flags & 0x1) throw new UnpackError(`${label} is encrypted`);
    if (size > budget) throw new UnpackError(`${label} decompresses to more than ${mib(limits.inflatedBytes)} (a zip bomb?); not read`);
    if (local + 30 > data.length || data.readUInt32LE(local) !== 0x04034b50) throw new UnpackError(`${label}: damaged zip entry`);
    const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
    const raw = data.subarray(start, start + compressed);
    if (raw.length !== compressed) throw new UnpackError(`${label}: truncated zip entry`);
    let out: Buffer;
    if (method === 0) out = raw;
    else if (method === 8) out = inflate(() => inflateRawSync(raw, { maxOutputLength: Math.max(budget, 1) }), label, limits);
    else throw new UnpackError(`${label}: zip compression method ${method} is not supported`);
    // The declared size is a claim; what inflating produced is what counts against the budget.
    budget -= out.length;
    if (budget < 0) throw new UnpackError(`${label} decompresses to more than ${mib(limits.inflatedBytes)} (a zip bomb?); not read`);
    docs.push({ name: label, text: out.toString('utf8') });
  }
  return docs;
}

function findEndOfCentralDirectory(data: Buffer): number {
  // The record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
  const lowest = Math.max(0, data.length - 22 - 0xffff);
  for (let i = data.length - 22; i >= lowest; i--) if (data.readUInt32LE(i) === 0x06054b50) return i;
  return -1;
}
