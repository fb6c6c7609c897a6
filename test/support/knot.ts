// A real Knot DNS server for tests: knotd on a free 127.0.0.1 port, serving the zones given as
// zone-file text from a private temporary directory, optionally accepting RFC 2136 updates signed
// with a TSIG key. Also the Knot zone checkers (kzonecheck, knotc zone-check) as functions.
//
//   const knot = await startKnot({ zones: [{ origin: 'example.com', text }], updateKey });
//   await knot.dig('example.com', 'MX');        // → ['10 mail.example.com.'] (kdig +short lines)
//   knot.address                                // '127.0.0.1:PORT' for --resolver / dns.server
//   await knot.stop();                          // stops knotd and removes the directory
//
// Nothing is left behind: stop() kills the daemon it started (by its pid) and deletes the directory.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const KNOTD = '/usr/sbin/knotd';
export const KNOTC = '/usr/sbin/knotc';
export const KDIG = '/usr/bin/kdig';
export const KZONECHECK = '/usr/bin/kzonecheck';

export interface KnotZone {
  /** Zone name, e.g. example.com. */
  origin: string;
  /** Zone file text (with SOA and NS). */
  text: string;
}

export interface TsigKeySpec {
  name: string;
  /** Base64 secret. */
  secret: string;
}

export interface KnotOptions {
  zones: KnotZone[];
  /** When set, every zone accepts DNS UPDATE signed with this key (hmac-sha256), and only so. */
  updateKey?: TsigKeySpec;
  /** Address to listen on instead of 127.0.0.1, e.g. a test host's gateway, for the host's resolver. */
  listenAddress?: string;
  /** Port instead of a free one (53 for a resolv.conf nameserver, which cannot name a port). */
  port?: number;
}

export interface KnotServer {
  host: string;
  port: number;
  /** host:port, as --resolver and dns.server take it. */
  address: string;
  dir: string;
  /** kdig +short answers (one presentation-form RDATA per line), asked over TCP. */
  dig(name: string, type: string): Promise<string[]>;
  /** Runs knotc against this server's control socket. */
  knotc(...args: string[]): Promise<string>;
  /**
   * Serves new text for one of its zones (its SOA serial must be higher than the served one's):
   * resolves once knotd answers with the new serial.
   */
  replaceZone(zone: KnotZone): Promise<void>;
  /** Daemon log so far (stderr), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

export function knotAvailable(): boolean {
  return existsSync(KNOTD) && existsSync(KNOTC) && existsSync(KDIG);
}

/** A fresh random TSIG secret (32 bytes, base64). */
export function newTsigSecret(): string {
  return randomBytes(32).toString('base64');
}

/** Where test processes on this machine claim ports: one file per port, holding the owner's pid. */
const PORT_CLAIMS = join(tmpdir(), 'mailrig-test-ports');
/** Below the kernel's ephemeral range (32768 and up by default), so no outgoing connection takes one. */
const PORT_RANGE = [20000, 29999] as const;
const claimed = new Set<string>();

/**
 * A port for a test server on 127.0.0.1 (TCP and UDP), ours until this process exits. A port that is
 * merely free now could be taken before the server binds it: by another test process picking the
 * same one, or by the kernel for an outgoing connection. So ports come from below the ephemeral
 * range, and each is claimed by creating its file under PORT_CLAIMS exclusively (a claim whose
 * process has gone is removed). A claimed port that something else has bound is skipped.
 */
export async function freePort(): Promise<number> {
  if (!existsSync(PORT_CLAIMS)) {
    mkdirSync(PORT_CLAIMS, { recursive: true });
    chmodSync(PORT_CLAIMS, 0o1777); // shared by every user's test runs, like /tmp itself
  }
  for (;;) {
    const port = PORT_RANGE[0] + randomInt(PORT_RANGE[1] - PORT_RANGE[0] + 1);
    const file = join(PORT_CLAIMS, String(port));
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // An empty file is a claim being written: only a claim naming a process that is gone goes.
      const owner = Number((readIfThere(file) ?? '').trim() || 'NaN');
      if (Number.isInteger(owner) && owner > 0 && !alive(owner)) rmSync(file, { force: true });
      continue;
    }
    if (claimed.size === 0) process.once('exit', () => claimed.forEach((f) => rmSync(f, { force: true })));
    claimed.add(file);
    if ((await bindable('tcp', port)) && (await bindable('udp', port))) return port;
  }
}

function readIfThere(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function bindable(proto: 'tcp' | 'udp', port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (proto === 'tcp') {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    } else {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    }
  });
}

/** knotd's configuration: zones/<origin>.zone, db/ and the control socket under dir; listens on host@port. */
export function config(dir: string, host: string, port: number, opts: KnotOptions): string {
  const key = opts.updateKey;
  const lines = [
    'server:',
    `    rundir: "${dir}"`,
    `    listen: ${host}@${port}`,
    'log:',
    '  - target: stderr',
    '    any: info',
    'database:',
    `    storage: "${join(dir, 'db')}"`,
    'control:',
    `    listen: "${join(dir, 'knot.sock')}"`,
    ...(key
      ? ['key:', `  - id: ${key.name}`, '    algorithm: hmac-sha256', `    secret: ${key.secret}`, 'acl:', '  - id: update', `    key: ${key.name}`, '    action: update']
      : []),
    'template:',
    '  - id: default',
    `    storage: "${join(dir, 'zones')}"`,
    // Keep the zone files as the test wrote them; updates live in the journal only.
    '    zonefile-sync: -1',
    '    journal-content: changes',
    '    semantic-checks: on',
    'zone:',
    ...opts.zones.flatMap((z) => [`  - domain: ${z.origin}`, `    file: ${z.origin}.zone`, ...(key ? ['    acl: update'] : [])]),
  ];
  return `${lines.join('\n')}\n`;
}

export async function startKnot(opts: KnotOptions): Promise<KnotServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-knot-'));
  mkdirSync(join(dir, 'zones'));
  // knotd does not create its database directory; updates fail (SERVFAIL, "not exists") without it.
  mkdirSync(join(dir, 'db'));
  for (const z of opts.zones) writeFileSync(join(dir, 'zones', `${z.origin}.zone`), z.text);
  const host = opts.listenAddress ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const conf = join(dir, 'knot.conf');
  writeFileSync(conf, config(dir, host, port, opts));
  const child: ChildProcess = spawn(KNOTD, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const knotc = async (...args: string[]) => (await run(KNOTC, ['-c', conf, '-s', join(dir, 'knot.sock'), ...args])).stdout;
  const server: KnotServer = {
    host,
    port,
    address: `${host}:${port}`,
    dir,
    knotc,
    log: () => log,
    async replaceZone(zone) {
      const serial = /\bSOA\s+\S+\s+\S+\s+\(?\s*(\d+)/.exec(zone.text)?.[1];
      if (serial === undefined) throw new Error(`no SOA serial in the new text of ${zone.origin}`);
      writeFileSync(join(dir, 'zones', `${zone.origin}.zone`), zone.text);
      await knotc('zone-reload', zone.origin);
      const deadline = Date.now() + 10000;
      for (;;) {
        const soa = await server.dig(zone.origin, 'SOA').catch(() => []);
        if (soa[0]?.split(/\s+/)[2] === serial) return;
        if (Date.now() > deadline) throw new Error(`knotd did not serve serial ${serial} of ${zone.origin} within 10 s:\n${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async dig(name, type) {
      const { stdout } = await run(KDIG, [`@${host}`, '-p', String(port), '+tcp', '+short', '+norecurse', name, type]);
      return stdout.split('\n').filter((l) => l.trim() !== '');
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitUntilServing(server, opts.zones, () => child.exitCode !== null);
  } catch (e) {
    await server.stop();
    throw new Error(`${(e as Error).message}\nknotd log:\n${log}`);
  }
  return server;
}

/** Polls until every zone answers its SOA (knotd loads zones in the background). */
async function waitUntilServing(server: KnotServer, zones: KnotZone[], dead: () => boolean): Promise<void> {
  const deadline = Date.now() + 10000;
  for (const z of zones) {
    for (;;) {
      if (dead()) throw new Error('knotd exited while starting');
      const soa = await server.dig(z.origin, 'SOA').catch(() => []);
      if (soa.length > 0) break;
      if (Date.now() > deadline) throw new Error(`knotd did not serve ${z.origin} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export interface CheckResult {
  ok: boolean;
  output: string;
}

async function capture(cmd: string, args: string[]): Promise<CheckResult> {
  try {
    const { stdout, stderr } = await run(cmd, args);
    return { ok: true, output: stdout + stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    return { ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` || err.message };
  }
}

/** kzonecheck (Debian package knot-dnssecutils); undefined when it is not installed. */
export async function kzonecheck(origin: string, text: string): Promise<CheckResult | undefined> {
  if (!existsSync(KZONECHECK)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-kzc-'));
  try {
    writeFileSync(join(dir, 'zone'), text);
    return await capture(KZONECHECK, ['-o', origin, join(dir, 'zone')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `knotc zone-check` (package knot): loads the zone as knotd would, with semantic checks, no daemon. */
export async function knotcZoneCheck(origin: string, text: string): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-kzc-'));
  try {
    mkdirSync(join(dir, 'zones'));
    mkdirSync(join(dir, 'db'));
    writeFileSync(join(dir, 'zones', `${origin}.zone`), text);
    const conf = join(dir, 'knot.conf');
    writeFileSync(conf, config(dir, '127.0.0.1', 53, { zones: [{ origin, text }] }));
    // -f: semantic-check warnings fail the check too.
    const r = await capture(KNOTC, ['-c', conf, '-f', 'zone-check', origin]);
    return { ok: r.ok && !/error|warning/i.test(r.output), output: r.output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** named-checkzone (package bind9-utils). */
export async function namedCheckzone(origin: string, text: string): Promise<CheckResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-ncz-'));
  try {
    writeFileSync(join(dir, 'zone'), text);
    return await capture('/usr/bin/named-checkzone', [origin, join(dir, 'zone')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
