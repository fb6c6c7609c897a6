// The rspamd controller's password hash, made on the operator's machine so the host only ever
// receives the hash. The key store computes it once, when the password is made, and keeps it beside
// the password (see store.ts): Catena is slow by design, about a second here.
//
// `rspamadm pw` on both Debian 12 (rspamd 3.4) and Debian 13 (3.12) prints "$2$<salt>$<key>": id 2 is
// Catena-Butterfly (lambda 4, garlic 10, associated data "rspamd", BLAKE2b-512 as the hash), with a
// 20-byte salt and a 32-byte key, both in rspamd's z-base32 (least significant bits first). The
// controller re-derives the key from the salt on login, so any salt works: we derive it from the
// password with HMAC, so that one password always has one hash.
import { createHash, createHmac } from 'node:crypto';

const H_LEN = 64;
const LAMBDA = 4;
const GARLIC = 10;
const KEY_LEN = 32;
const SALT_LEN = 20;
const ZBASE32 = 'ybndrfg8ejkmcpqxot1uwisza345h769';

function blake2b(...parts: Uint8Array[]): Buffer {
  const h = createHash('blake2b512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** rspamd's z-base32: the input read as one little-endian bit string, five bits per character. */
export function rspamdBase32(data: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const byte of data) {
    acc |= byte << bits;
    bits += 8;
    while (bits >= 5) {
      out += ZBASE32[acc & 31];
      acc >>>= 5;
      bits -= 5;
    }
  }
  if (bits > 0) out += ZBASE32[acc & 31];
  return out;
}

/** The inverse of rspamdBase32 (trailing bits that do not fill a byte are dropped, as rspamd does). */
export function rspamdBase32Decode(text: string): Buffer | undefined {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const ch of text) {
    const v = ZBASE32.indexOf(ch);
    if (v < 0) return undefined;
    acc |= v << bits;
    bits += 5;
    if (bits >= 8) {
      out.push(acc & 0xff);
      acc >>>= 8;
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** xorshift1024* seeded from two 64-byte hashes, as Catena's gamma function uses it. */
function xorshift1024(a: Buffer, b: Buffer): () => bigint {
  const mask = (1n << 64n) - 1n;
  const s: bigint[] = [];
  for (let i = 0; i < 8; i++) s.push(a.readBigUInt64LE(i * 8));
  for (let i = 0; i < 8; i++) s.push(b.readBigUInt64LE(i * 8));
  let p = 0;
  return () => {
    let s0 = s[p] ?? 0n;
    p = (p + 1) & 15;
    let s1 = s[p] ?? 0n;
    s1 ^= (s1 << 31n) & mask;
    s1 ^= s1 >> 11n;
    s0 ^= s0 >> 30n;
    s[p] = s0 ^ s1;
    return ((s0 ^ s1) * 1181783497276652981n) & mask;
  };
}

/** One Catena-Butterfly layer: a double-butterfly graph over 2^garlic hash-sized cells. */
function flap(x: Buffer, garlic: number, salt: Uint8Array): Buffer {
  const c = 1 << garlic;
  const m = 1 << (garlic - 1);
  const l = 2 * garlic;
  const r: Buffer[] = new Array<Buffer>(c + m);
  const at = (i: number): Buffer => r[i] ?? Buffer.alloc(H_LEN);
  // Top row, seeded from x.
  const vm1 = blake2b(Uint8Array.of(0), x);
  const vm2 = blake2b(Uint8Array.of(1), x);
  r[0] = blake2b(vm1, vm2);
  r[1] = blake2b(at(0), vm1);
  for (let i = 2; i < c; i++) r[i] = blake2b(at(i - 1), at(i - 2));
  // Gamma: salt-dependent random overwrites.
  const g1 = blake2b(salt);
  const next = xorshift1024(g1, blake2b(g1));
  const shift = BigInt(64 - garlic);
  const q = 1 << Math.floor((3 * garlic + 3) / 4);
  for (let i = 0; i < q; i++) {
    const j = Number(next() >> shift);
    const j2 = Number(next() >> shift);
    r[j] = blake2b(at(j), at(j2));
  }
  const idx = (level: number, j: number, co: number): number => {
    const k = (level + co) % 3;
    if (k === 0) return j;
    if (k === 1) return j < m ? j + c : j - m;
    return j + m;
  };
  const sigma = (i: number, j: number): number => (i < garlic ? j ^ (1 << (garlic - 1 - i)) : j ^ (1 << (i - (garlic - 1))));
  const xor = (a: Buffer, b: Buffer): Buffer => {
    const o = Buffer.alloc(H_LEN);
    for (let n = 0; n < H_LEN; n++) o[n] = (a[n] ?? 0) ^ (b[n] ?? 0);
    return o;
  };
  let co = 0;
  for (let k = 0; k < LAMBDA; k++) {
    for (let i = 1; i < l; i++) {
      const tmp = xor(at(idx(i - 1, c - 1, co)), at(idx(i - 1, 0, co)));
      r[idx(i, 0, co)] = blake2b(Uint8Array.of(0), blake2b(tmp, at(idx(i - 1, sigma(i - 1, 0), co))));
      for (let j = 1; j < c; j++) {
        const t = xor(at(idx(i, j - 1, co)), at(idx(i - 1, j, co)));
        r[idx(i, j, co)] = blake2b(t, at(idx(i - 1, sigma(i - 1, j), co)));
      }
    }
    co = (co + (l - 1)) % 3;
  }
  return Buffer.from(at(idx(0, c - 1, co)));
}

/** Catena-Butterfly in password-hashing mode, as rspamd calls it (min garlic = garlic). */
export function catena(password: Uint8Array, salt: Uint8Array, data: Uint8Array, garlic: number, hashLen: number): Buffer {
  const hv = blake2b(Buffer.from('Butterfly-Full'));
  const tweak = Uint8Array.of(0, LAMBDA, hashLen, salt.length);
  let x = blake2b(hv, tweak, blake2b(data), password, salt);
  x = flap(x, Math.floor((garlic + 1) / 2), salt);
  x = flap(x, garlic, salt);
  x = blake2b(Uint8Array.of(garlic), x);
  return x.subarray(0, hashLen);
}

function derive(password: string, salt: Uint8Array): Buffer {
  return catena(Buffer.from(password, 'utf8'), salt, Buffer.from('rspamd'), GARLIC, KEY_LEN);
}

/** "$2$salt$key" for the controller's `password`, as `rspamadm pw` would print it (salt aside). */
export function rspamdPasswordHash(password: string): string {
  const salt = createHmac('sha256', 'mailrig rspamd controller salt').update(password, 'utf8').digest().subarray(0, SALT_LEN);
  return `$2$${rspamdBase32(salt)}$${rspamdBase32(derive(password, salt))}`;
}

/** Whether `hash` ("$2$salt$key", e.g. from `rspamadm pw`) matches `password`, as the controller checks it. */
export function verifyRspamdPassword(hash: string, password: string): boolean {
  const m = /^\$2\$([a-z0-9]+)\$([a-z0-9]+)$/.exec(hash);
  const salt = m?.[1] === undefined ? undefined : rspamdBase32Decode(m[1]);
  const key = m?.[2] === undefined ? undefined : rspamdBase32Decode(m[2]);
  if (salt?.length !== SALT_LEN || key?.length !== KEY_LEN) return false;
  return derive(password, salt).equals(key);
}
