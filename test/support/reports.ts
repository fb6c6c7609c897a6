// Report mail as receivers send it, for the reports tests: DMARC aggregate reports (XML attached
// plain, gzip'd or zipped, RFC 7489 section 7.2.1.1 naming) and TLS reports (RFC 8460: a
// multipart/report with an application/tlsrpt+gzip part), plus the hostile kinds — built here,
// never committed: zip bombs, oversized and malformed attachments.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { FIXTURES } from './fixtures.js';

export const REPORT_FIXTURES = join(FIXTURES, 'reports');
export const GOOGLE_XML = 'google.com!example.com!1764547200!1764633599.xml';
export const OUTLOOK_XML = 'enterprise.protection.outlook.com!example.com!1764547200!1764633600.xml';
export const TLS_JSON = 'google.com!example.com!2025-12-01Z.json';

export const fixture = (name: string): Buffer => readFileSync(join(REPORT_FIXTURES, name));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(data: Buffer): number {
  // Node's own where it has one (20.15 and later): a zip bomb's many megabytes are slow in a JS loop.
  const native = (zlib as { crc32?: (d: Buffer) => number }).crc32;
  if (native) return native(data);
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipEntry {
  name: string;
  data: Buffer;
  /** Claim this uncompressed size in the headers instead of the true one (a lying bomb). */
  claimedSize?: number;
}

/** A zip archive of deflated entries, as `zip` makes them. */
export function makeZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const packed = deflateRawSync(e.data);
    const crc = crc32(e.data);
    const size = e.claimedSize ?? e.data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(8, 10);
    dir.writeUInt32LE(crc, 16);
    dir.writeUInt32LE(packed.length, 20);
    dir.writeUInt32LE(size, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    central.push(dir, name);
    offset += local.length + name.length + packed.length;
  }
  const dirBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dirBytes, end]);
}

/** Zeros that inflate to `bytes` (about a thousandth of that compressed). */
export const zeros = (bytes: number) => Buffer.alloc(bytes);

export interface Attachment {
  filename: string;
  contentType: string;
  data: Buffer;
}

function base64Lines(data: Buffer): string {
  const text = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += 76) lines.push(text.slice(i, i + 76));
  return lines.join('\r\n');
}

/** A DMARC aggregate report message: a short text part and the attachments, like Google's and Microsoft's. */
export function aggregateMail(opts: { from: string; to: string; subject: string; messageId: string; attachments: Attachment[] }): string {
  const boundary = `=_report_${opts.messageId.replace(/\W/g, '')}`;
  const parts = [
    `--${boundary}\r\nContent-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: 7bit\r\n\r\nThis is an aggregate report from ${opts.from.split('@')[1]}.\r\n`,
    ...opts.attachments.map(
      (a) =>
        `--${boundary}\r\nContent-Type: ${a.contentType}; name="${a.filename}"\r\nContent-Disposition: attachment; filename="${a.filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(a.data)}\r\n`,
    ),
  ];
  return [
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: ${opts.subject}`,
    `Message-ID: <${opts.messageId}>`,
    'Date: Tue, 02 Dec 2025 01:02:03 +0000',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `${parts.join('')}--${boundary}--\r\n`,
  ].join('\r\n');
}

/** A TLS report message (RFC 8460 section 5.3): multipart/report with the gzip'd JSON. */
export function tlsReportMail(opts: { from: string; to: string; domain: string; messageId: string; json: Buffer }): string {
  const boundary = `=_tlsrpt_${opts.messageId.replace(/\W/g, '')}`;
  return [
    `From: ${opts.from}`,
    `To: ${opts.to}`,
    `Subject: Report Domain: ${opts.domain} Submitter: ${opts.from.split('@')[1]} Report-ID: <${opts.messageId}>`,
    `Message-ID: <${opts.messageId}>`,
    `TLS-Report-Domain: ${opts.domain}`,
    `TLS-Report-Submitter: ${opts.from.split('@')[1]}`,
    'Date: Tue, 02 Dec 2025 01:02:03 +0000',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="UTF-8"',
    '',
    `This is an aggregate TLS report from ${opts.from.split('@')[1]}.`,
    `--${boundary}`,
    `Content-Type: application/tlsrpt+gzip; name="${opts.from.split('@')[1]}!${opts.domain}!1764547200!1764633599.json.gz"`,
    `Content-Disposition: attachment; filename="${opts.from.split('@')[1]}!${opts.domain}!1764547200!1764633599.json.gz"`,
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(gzipSync(opts.json)),
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

export const gz = (data: Buffer) => gzipSync(data);
