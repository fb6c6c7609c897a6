// A DNSSEC-signed zone for tests, signed on this machine with ldns (Debian package ldnsutils): one
// ECDSA P-256 key per zone (a combined signing key, as most hosted zones have), its DS record to give
// a resolver as trust anchor, and the zone text signed with it — to serve from Knot as it is.
//
//   const key = await newZoneKey('remote.test');
//   key.ds                                   // 'remote.test. IN DS 12345 13 2 …' (a trust anchor)
//   const signed = await signZone(key, text); // the zone with DNSKEY, RRSIGs and NSECs
//   breakSignature(signed, 'TLSA')            // the same, with the TLSA RRset's signature damaged
//
// Every file lives in a private temporary directory, removed by key.remove().
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ZoneKey {
  origin: string;
  /** The key's DS record in presentation form, one line, class IN. */
  ds: string;
  /** Directory holding the key files. */
  dir: string;
  /** ldns's base name of the key files (K<origin>.+013+<tag>). */
  base: string;
  remove(): void;
}

export async function newZoneKey(origin: string): Promise<ZoneKey> {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-dnssec-'));
  // -k: a key-signing key (flags 257), which signs the whole zone when it is the only key.
  const { stdout } = await run('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', origin], { cwd: dir });
  const base = stdout.trim();
  const ds = readFileSync(join(dir, `${base}.ds`), 'utf8').trim().split(/\s+/).join(' ');
  if (!/^\S+\. IN DS \d+ 13 2 [0-9a-f]{64}$/.test(ds)) throw new Error(`unexpected DS from ldns-keygen: ${ds}`);
  return { origin, ds, dir, base, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The zone text signed with the key (NSEC, signatures valid from an hour ago for 30 days). */
export async function signZone(key: ZoneKey, text: string): Promise<string> {
  const file = join(key.dir, 'zone');
  writeFileSync(file, text);
  const now = Math.floor(Date.now() / 1000);
  const stamp = (t: number) => new Date(t * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  await run('ldns-signzone', ['-o', key.origin, '-i', stamp(now - 3600), '-e', stamp(now + 30 * 86400), file, join(key.dir, key.base)]);
  return readFileSync(`${file}.signed`, 'utf8');
}

/**
 * The signed zone with the signature over one RRset of `type` made invalid (one byte of the
 * signature changed): a validating resolver must call that RRset bogus, not absent.
 */
export function breakSignature(signed: string, type: string): string {
  let broken = false;
  const lines = signed.split('\n').map((line) => {
    const f = line.split(/\s+/);
    // owner TTL IN RRSIG <type covered> alg labels origTTL expiration inception tag signer signature…
    if (broken || f[3] !== 'RRSIG' || f[4] !== type) return line;
    const sig = Buffer.from(f.slice(12).join(''), 'base64');
    sig.writeUInt8(sig.readUInt8(sig.length - 1) ^ 0xff, sig.length - 1);
    broken = true;
    return [...f.slice(0, 12), sig.toString('base64')].join('\t');
  });
  if (!broken) throw new Error(`no RRSIG over ${type} in the signed zone`);
  return lines.join('\n');
}
