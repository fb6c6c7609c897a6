// Pebble, Let's Encrypt's test ACME server (Debian package pebble), for end-to-end tests: listening on
// an address the test host can reach, validating HTTP-01 for real against the names' A records as a
// knotd of the test serves them, on port 80.
//
//   const pebble = await startPebble({ listen: host.gateway, dnsServer: knot.address });
//   pebble.directoryUrl      // https://10.231.n.1:PORT/dir, for tls.acme
//   pebble.tlsCertFile       // its HTTPS listener's certificate, for tls.ca_bundle
//   await pebble.issuingRoot()   // the root that signs issued chains (new at every start)
//   await pebble.stop(); await pebble.start();   // same address and HTTPS certificate, new CA
//   await pebble.close();    // stops it and removes its directory
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './knot.js';

const run = promisify(execFile);
export const PEBBLE = '/usr/bin/pebble';

export function pebbleAvailable(): boolean {
  return existsSync(PEBBLE);
}

export interface PebbleOptions {
  /** Address for the ACME API (the test host's gateway, so the host's agent reaches it too). */
  listen: string;
  /** ip:port of the DNS server Pebble resolves names with. */
  dnsServer: string;
  /** Port HTTP-01 validation connects to (default 80: the host's nginx). */
  httpPort?: number;
}

export interface Pebble {
  directoryUrl: string;
  /** PEM file of Pebble's HTTPS certificate: what ACME clients must trust. */
  tlsCertFile: string;
  /** The root of the chains Pebble issues (PEM), from its management interface. */
  issuingRoot(): Promise<string>;
  log(): string;
  start(): Promise<void>;
  stop(): Promise<void>;
  close(): Promise<void>;
}

function get(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end();
  });
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  const dir = mkdtempSync(join(tmpdir(), 'mailrig-pebble-'));
  const [port, mgmtPort] = [await freePort(), await freePort()];
  const cert = join(dir, 'pebble.crt');
  const key = join(dir, 'pebble.key');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=pebble test ACME server', '-addext', `subjectAltName=IP:${opts.listen},IP:127.0.0.1`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', key, '-out', cert,
  ]);
  const config = join(dir, 'pebble.json');
  writeFileSync(
    config,
    JSON.stringify({
      pebble: {
        listenAddress: `${opts.listen}:${port}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: cert,
        privateKey: key,
        httpPort: opts.httpPort ?? 80,
        tlsPort: 443,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );
  const ca = readFileSync(cert, 'utf8');
  let child: ChildProcess | undefined;
  let log = '';
  const directoryUrl = `https://${opts.listen}:${port}/dir`;

  const pebble: Pebble = {
    directoryUrl,
    tlsCertFile: cert,
    log: () => log,
    async issuingRoot() {
      const r = await get(`https://127.0.0.1:${mgmtPort}/roots/0`, ca);
      if (r.status !== 200) throw new Error(`pebble /roots/0: HTTP ${r.status}`);
      return r.body;
    },
    async start() {
      if (child) return;
      const c = spawn(PEBBLE, ['-config', config, '-dnsserver', opts.dnsServer, '-strict=false'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        // No random sleeps before validation, no rejected nonces, no reused authorizations: fast and exact.
        env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_VA_ALWAYS_VALID: '0', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
      });
      child = c;
      c.stdout?.on('data', (d: Buffer) => (log += d.toString()));
      c.stderr?.on('data', (d: Buffer) => (log += d.toString()));
      const deadline = Date.now() + 15_000;
      for (;;) {
        if (c.exitCode !== null) throw new Error(`pebble exited at start:\n${log}`);
        const ok = await get(directoryUrl, ca).then((r) => r.status === 200, () => false);
        if (ok) return;
        if (Date.now() > deadline) throw new Error(`pebble did not answer at ${directoryUrl}:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((r) => c.once('exit', () => r()));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
    async close() {
      await pebble.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return pebble;
}
