// TSIG (RFC 8945) with HMAC-SHA256: signs DNS UPDATE messages and verifies the server's signed answer.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { UsageError } from '../errors.js';

export const TSIG_ALGORITHM = 'hmac-sha256';
const TYPE_TSIG = 250;
const CLASS_ANY = 255;
/** Seconds of clock difference the server accepts (RFC 8945 recommends 300). */
const FUDGE = 300;

export interface TsigKey {
  name: string;
  secret: Buffer;
}

/** Uncompressed, lower-case wire form of a name: the canonical form the MAC covers. */
export function nameWire(name: string): Buffer {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')])), Buffer.from([0])]);
}

const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};

function time48(seconds: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(seconds / 2 ** 32));
  b.writeUInt32BE(seconds % 2 ** 32, 2);
  return b;
}

/** The TSIG variables (RFC 8945 4.3.3) that follow the message in the MAC input. */
function variables(key: TsigKey, time: Buffer, fudge: number, error: number, other: Buffer): Buffer {
  return Buffer.concat([nameWire(key.name), u16(CLASS_ANY), Buffer.alloc(4), nameWire(TSIG_ALGORITHM), time, u16(fudge), u16(error), u16(other.length), other]);
}

const hmac = (key: TsigKey, ...parts: Buffer[]) => {
  const h = createHmac('sha256', key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Appends a TSIG record to `message` (an encoded DNS message) and returns it with the request MAC. */
export function sign(message: Buffer, key: TsigKey, nowSeconds = Math.floor(Date.now() / 1000)): { signed: Buffer; mac: Buffer } {
  const time = time48(nowSeconds);
  const mac = hmac(key, message, variables(key, time, FUDGE, 0, Buffer.alloc(0)));
  const rdata = Buffer.concat([nameWire(TSIG_ALGORITHM), time, u16(FUDGE), u16(mac.length), mac, message.subarray(0, 2), u16(0), u16(0)]);
  const rr = Buffer.concat([nameWire(key.name), u16(TYPE_TSIG), u16(CLASS_ANY), Buffer.alloc(4), u16(rdata.length), rdata]);
  const signed = Buffer.concat([message, rr]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { signed, mac };
}

export interface TsigResult {
  /** The response carried a TSIG record whose MAC verifies. */
  verified: boolean;
  /** The TSIG error field (16 BADSIG, 17 BADKEY, 18 BADTIME), 0 when none or no TSIG. */
  error: number;
  present: boolean;
}

/** Skips a possibly compressed name; returns the offset after it. */
function skipName(buf: Buffer, offset: number): number {
  let o = offset;
  for (;;) {
    const len = buf[o] ?? 0;
    if ((len & 0xc0) === 0xc0) return o + 2;
    o += len + 1;
    if (len === 0) return o;
  }
}

/** Verifies the TSIG of a response to a request signed with `requestMac`. */
export function verify(response: Buffer, requestMac: Buffer, key: TsigKey): TsigResult {
  const counts = [4, 6, 8, 10].map((o) => response.readUInt16BE(o));
  const [qd = 0, an = 0, ns = 0, ar = 0] = counts;
  if (ar === 0) return { verified: false, error: 0, present: false };
  let o = 12;
  for (let i = 0; i < qd; i++) o = skipName(response, o) + 4;
  let last = o;
  for (let i = 0; i < an + ns + ar; i++) {
    last = o;
    o = skipName(response, o);
    o += 10 + response.readUInt16BE(o + 8);
  }
  const typeAt = skipName(response, last);
  if (response.readUInt16BE(typeAt) !== TYPE_TSIG) return { verified: false, error: 0, present: false };
  let r = typeAt + 10;
  r = skipName(response, r);
  const time = response.subarray(r, r + 6);
  const fudge = response.readUInt16BE(r + 6);
  const macLen = response.readUInt16BE(r + 8);
  const mac = response.subarray(r + 10, r + 10 + macLen);
  const p = r + 10 + macLen;
  const originalId = response.readUInt16BE(p);
  const error = response.readUInt16BE(p + 2);
  const otherLen = response.readUInt16BE(p + 4);
  const other = response.subarray(p + 6, p + 6 + otherLen);
  if (macLen === 0) return { verified: false, error, present: true };
  const unsigned = Buffer.from(response.subarray(0, last));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(ar - 1, 10);
  const expected = hmac(key, u16(requestMac.length), requestMac, unsigned, variables(key, time, fudge, error, other));
  const verified = expected.length === mac.length && timingSafeEqual(expected, mac);
  return { verified, error, present: true };
}

/**
 * The secret of a TSIG key file. Accepts what the usual tools write: BIND's `key "n" { algorithm …;
 * secret "…"; };` (tsig-keygen), Knot's YAML `key: - id: … algorithm: … secret: …` (keymgr -t),
 * `hmac-sha256:name:secret` (kdig -y), or the bare base64 secret.
 */
export function parseTsigKeyFile(text: string, keyName: string, file: string): TsigKey {
  const t = text.trim();
  const colon = /^(?:([\w-]+):)?([^:\s]+):([A-Za-z0-9+/=]+)$/.exec(t);
  const algorithm = colon?.[1] ?? /algorithm[:\s]+"?([\w-]+)"?/i.exec(t)?.[1];
  const name = colon?.[2] ?? /key\s+"?([^"\s{]+)"?\s*\{/.exec(t)?.[1] ?? /id:\s*"?([^"\s]+)"?/.exec(t)?.[1];
  const secret = colon?.[3] ?? /secret[:\s]+"?([A-Za-z0-9+/=]+)"?/i.exec(t)?.[1] ?? (/^[A-Za-z0-9+/=]+$/.test(t) ? t : undefined);
  if (secret === undefined) throw new UsageError(`${file}: no TSIG secret found (expected a BIND or Knot key file, or the base64 secret)`);
  if (algorithm !== undefined && algorithm.toLowerCase() !== TSIG_ALGORITHM) {
    throw new UsageError(`${file}: the key's algorithm is ${algorithm}; mailrig signs updates with ${TSIG_ALGORITHM}`);
  }
  if (name !== undefined && name.replace(/\.$/, '').toLowerCase() !== keyName.replace(/\.$/, '').toLowerCase()) {
    throw new UsageError(`${file}: the file holds key ${name}, but dns.key_name is ${keyName}`);
  }
  return { name: keyName, secret: Buffer.from(secret, 'base64') };
}
