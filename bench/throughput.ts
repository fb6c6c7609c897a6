// Benchmark 4: delivery throughput. Postfix's smtp-source (this machine, outside the host) sends
// 2,000 messages to bob@example.com through port 25 of a provisioned Debian 12 test host, 10 sessions
// at a time, one message per connection, with rspamd scanning every message as Postfix's milter.
// Timed from the first connection until every message is in bob's Maildir (counted; none may be
// lost). Then the same with the milter off (smtpd_milters emptied in main.cf, postfix reload), and
// the ratio. smtp-source comes with the postfix package (installed here if missing; policy-rc.d
// keeps its daemons from starting on this machine).
//
// Two things make the run about mail rather than about this sandbox:
// - DNS: the test host has no way to the Internet, so every lookup rspamd and Postfix make (RBLs,
//   SPF, reverse DNS) would wait for a time-out. A knotd on the host's gateway serves the root zone
//   (client and sender names, their reverse record and SPF; NXDOMAIN for the rest, such as RBL
//   queries) and becomes the host's resolver, so each lookup is answered at once, as a nearby
//   caching resolver would.
// - Greylisting: 2,000 messages from one new sender would all be deferred by design. The sending
//   address is exempted in rspamd's greylist settings (whitelisted_ip); every other rule scans as usual.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestHost } from '../test/support/testhost.js';
import { serveZone, type ZoneServer } from './lib/dns.js';
import { BOB_MAILDIR, countMessages, mustExec, withProvisionedHost } from './lib/host.js';
import { fmtMs, header, spread, summarize, table, writeResults, type Summary } from './lib/stats.js';

const run = promisify(execFile);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10);
const RUNS = Number(process.env.BENCH_THROUGHPUT_RUNS ?? 3);
const SIZE = 2000;
const SMTP_SOURCE = '/usr/sbin/smtp-source';
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

async function ensureSmtpSource(): Promise<void> {
  const have = await run('test', ['-x', SMTP_SOURCE]).then(() => true, () => false);
  if (have) return;
  log('installing postfix on this machine for smtp-source (apt-get install -y postfix)');
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'postfix'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 64 << 20 });
}

interface RunResult {
  /** From start until smtp-source had every message accepted. */
  acceptedMs: number;
  /** From start until every message was in the Maildir. */
  deliveredMs: number;
  delivered: number;
}

async function oneRun(host: TestHost, label: string): Promise<RunResult> {
  const before = await countMessages(host, BOB_MAILDIR);
  const start = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - start) / 1e6;
  let acceptedMs = 0;
  const source = run(
    SMTP_SOURCE,
    ['-s', String(SESSIONS), '-m', String(MESSAGES), '-l', String(SIZE), '-M', 'client.example.net', '-f', 'sender@example.net',
      '-t', 'bob@example.com', '-S', `mailrig throughput ${label}`, `${host.address}:25`],
    { maxBuffer: 16 << 20, timeout: 30 * 60_000 },
  ).then(() => {
    acceptedMs = elapsed();
  });
  let sourceError: unknown;
  source.catch((e: unknown) => (sourceError = e));
  const deadline = Date.now() + 30 * 60_000;
  let delivered = 0;
  for (;;) {
    delivered = (await countMessages(host, BOB_MAILDIR)) - before;
    if (delivered >= MESSAGES || sourceError || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const deliveredMs = elapsed();
  await source.catch(() => undefined);
  if (sourceError) throw new Error(`smtp-source failed after ${delivered} deliveries: ${String((sourceError as { stderr?: string }).stderr ?? sourceError)}`);
  if (delivered !== MESSAGES) {
    const queue = await host.exec('postqueue -p | tail -3; tail -20 /var/log/mail.log 2>/dev/null');
    throw new Error(`${delivered} of ${MESSAGES} messages arrived (${MESSAGES - delivered} lost or stuck)\n${queue.stdout}`);
  }
  log(`${label}: ${MESSAGES} delivered in ${fmtMs(deliveredMs)} (accepted in ${fmtMs(acceptedMs)})`);
  return { acceptedMs, deliveredMs, delivered };
}

async function series(host: TestHost, label: string): Promise<{ delivered: Summary; accepted: Summary; rate: Summary }> {
  const runs: RunResult[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await oneRun(host, `${label} #${i + 1}`));
  return {
    delivered: summarize(runs.map((r) => r.deliveredMs)),
    accepted: summarize(runs.map((r) => r.acceptedMs)),
    rate: summarize(runs.map((r) => MESSAGES / (r.deliveredMs / 1000))),
  };
}

/** rspamd's count of messages scanned since it started. */
async function scannedCount(host: TestHost): Promise<number> {
  const r = await host.exec("rspamc stat 2>/dev/null | sed -n 's/^Messages scanned: *\\([0-9]*\\).*/\\1/p'");
  return Number(r.stdout.trim()) || 0;
}

/** The root zone the host resolves against: the sender's names and NXDOMAIN for everything else. */
function rootZone(host: TestHost): string {
  const rev = host.gateway.split('.').reverse().join('.');
  return [
    '$TTL 300',
    '. SOA ns. hostmaster. 1 3600 600 86400 300',
    '. NS ns.',
    `ns. A ${host.gateway}`,
    `client.example.net. A ${host.gateway}`,
    `${rev}.in-addr.arpa. PTR client.example.net.`,
    `example.net. A ${host.gateway}`,
    'example.net. MX 10 client.example.net.',
    `example.net. TXT "v=spf1 ip4:${host.gateway} -all"`,
    `mail.example.com. A ${host.address}`,
    '',
  ].join('\n');
}

/** Points the host (and Postfix's chroot) at the knotd, exempts the sender from greylisting, restarts rspamd. */
async function prepareHost(host: TestHost): Promise<void> {
  mustExec(
    await host.exec(
      [
        `printf 'nameserver ${host.gateway}\\n' > /etc/resolv.conf`,
        'cp /etc/resolv.conf /var/spool/postfix/etc/resolv.conf 2>/dev/null || true',
        `printf 'whitelisted_ip = ["${host.gateway}"];\\n' >> /etc/rspamd/local.d/greylist.conf`,
        'rspamadm configtest >/dev/null',
        'service rspamd restart >/dev/null 2>&1 </dev/null',
        'postfix reload >/dev/null 2>&1',
      ].join(' && '),
    ),
    'preparing the host',
  );
  // rspamd answers on its milter port again once it has loaded its rules.
  for (let i = 0; i < 120; i++) {
    if ((await host.exec('ss -ltn | grep -q ":11332 "')).code === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await new Promise((r) => setTimeout(r, 5000));
}

async function main(): Promise<void> {
  header(`4. Delivery throughput: ${MESSAGES} messages of ${SIZE} bytes by smtp-source to port 25, ${SESSIONS} sessions (Debian 12 test host)`);
  await ensureSmtpSource();
  await withProvisionedHost('bookworm', 'bench-smtp', async ({ host }) => {
    let knot: ZoneServer | undefined;
    try {
      knot = await serveZone('.', rootZone(host), host.gateway);
      await prepareHost(host);
      await measure(host);
    } finally {
      await knot?.stop();
    }
  });
}

async function measure(host: TestHost): Promise<void> {
  {
    const milters = mustExec(await host.exec('postconf -h smtpd_milters'), 'postconf').trim();
    if (!milters) throw new Error('smtpd_milters is empty on the provisioned host: rspamd would not scan');
    // Proof that rspamd scanned every message: its own counter (rspamc stat, through the controller).
    const scannedBefore = await scannedCount(host);
    const on = await series(host, 'rspamd on');
    const scannedDelta = (await scannedCount(host)) - scannedBefore;
    const scanned = scannedDelta >= MESSAGES * RUNS;

    mustExec(await host.exec("postconf -e 'smtpd_milters =' && postfix reload"), 'turning the milter off');
    await new Promise((r) => setTimeout(r, 2000));
    const off = await series(host, 'milter off');
    const ratio = off.rate.median / on.rate.median;

    const perS = (n: number) => `${n.toFixed(0)} msg/s`;
    process.stdout.write(`${table([
      ['configuration', 'messages/s median (min–max)', 'all delivered after', 'all accepted after'],
      [`rspamd milter on${scanned ? '' : ` (rspamd counted only ${scannedDelta} scans!)`}`, spread(on.rate, perS), spread(on.delivered), spread(on.accepted)],
      ['milter off', spread(off.rate, perS), spread(off.delivered), spread(off.accepted)],
    ])}\n\nmilter off ÷ on: ${ratio.toFixed(2)}× (what scanning costs). ${RUNS} runs each; every message counted in the Maildir, none lost.\n`);
    writeResults('throughput', { scannedByRspamd: scannedDelta, messages: MESSAGES, sessions: SESSIONS, sizeBytes: SIZE, runs: RUNS, scanned, dns: 'knotd on the gateway serving the root zone', greylisting: 'sender address whitelisted', milterOn: on, milterOff: off, ratioOffOverOn: ratio });
  }
}

await main();
