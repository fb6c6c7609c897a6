// Deliverability: Spamhaus answers (listed, refused = could not check, NXDOMAIN = clean, timeout),
// and the open-relay attempt against SMTP servers on loopback that refuse and that accept.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { blocklists, checkDbl, checkListed, checkZen, spamhausFor, zenName } from '../../src/check/deliverability/blocklists.js';
import type { CheckResult } from '../../src/check/types.js';
import { configFrom } from '../support/fixtures.js';
import { judgeRelay } from '../../src/check/deliverability/relay.js';
import { tryRelay } from '../../src/check/net/relay.js';
import { tableResolver, testEnv } from '../support/check-env.js';

describe('check: Spamhaus', () => {
  it('query names: reversed octets, reversed nibbles', () => {
    assert.equal(zenName('203.0.113.10'), '10.113.0.203.zen.spamhaus.org');
    assert.equal(zenName('2001:db8::10'), '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.zen.spamhaus.org');
  });
  const zen = (answer: Parameters<typeof tableResolver>[0][string]) => checkZen('203.0.113.10', tableResolver({ '10.113.0.203.zen.spamhaus.org A': answer }));
  it('NXDOMAIN is not listed', async () => {
    const r = await checkZen('203.0.113.10', tableResolver({}));
    assert.deepEqual([r.status, r.message], ['ok', 'not listed']);
  });
  it('a listing fails and says which list', async () => {
    const r = await zen(['127.0.0.2', '127.0.0.4']);
    assert.equal(r.status, 'fail');
    assert.equal(r.message, 'listed: SBL (spam source), XBL (exploited host)');
  });
  it('127.255.255.x is "could not check", never listed', async () => {
    for (const code of ['127.255.255.254', '127.255.255.255', '127.255.255.252']) {
      const r = await zen([code]);
      assert.equal(r.status, 'warn', code);
      assert.equal(r.unknown, true);
      assert.match(r.message, /^could not check: Spamhaus refused the query/);
    }
  });
  it('a timeout or a refusing resolver is "could not check"', async () => {
    const r = await zen({ error: 'no answer from 127.0.0.1:53 within 4000 ms' });
    assert.equal(r.unknown, true);
    assert.match(r.fix ?? '', /resolver of your own/);
  });
  it('DBL: listed, clean, refused', async () => {
    const dbl = (a: Parameters<typeof tableResolver>[0][string]) => checkDbl('example.com', tableResolver({ 'example.com.dbl.spamhaus.org A': a }));
    assert.equal((await dbl(['127.0.1.2'])).status, 'fail');
    assert.equal((await dbl('nxdomain')).status, 'ok');
    assert.equal((await dbl(['127.255.255.254'])).unknown, true);
    assert.equal((await dbl(['127.0.1.255'])).unknown, true);
  });
});

type Answer = Parameters<typeof tableResolver>[0][string];
const KEY = 'mailrigtestkey0123456789ab';
const V6 = '0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2';
const verdictOf = (r: CheckResult) => (r.unknown ? 'unknown' : r.status);

describe('check: blocklists, every verdict', () => {
  // [what, address or domain, the name asked, the answer, the verdict]
  const zen: Array<[string, string, string, Answer, string]> = [
    ['IPv4 not listed', '203.0.113.10', '10.113.0.203.zen.spamhaus.org', 'nxdomain', 'ok'],
    ['IPv4 SBL', '203.0.113.10', '10.113.0.203.zen.spamhaus.org', ['127.0.0.2'], 'fail'],
    ['IPv4 PBL', '203.0.113.10', '10.113.0.203.zen.spamhaus.org', ['127.0.0.10'], 'fail'],
    ['IPv4 typing error in the zone', '203.0.113.10', '10.113.0.203.zen.spamhaus.org', ['127.255.255.252'], 'unknown'],
    ['IPv4 public resolver', '203.0.113.10', '10.113.0.203.zen.spamhaus.org', ['127.255.255.254'], 'unknown'],
    ['IPv4 too many queries', '203.0.113.10', '10.113.0.203.zen.spamhaus.org', ['127.255.255.255'], 'unknown'],
    ['IPv4 timeout', '203.0.113.10', '10.113.0.203.zen.spamhaus.org', { error: 'no answer' }, 'unknown'],
    ['IPv6 not listed', '2001:db8::10', `${V6}.zen.spamhaus.org`, 'nxdomain', 'ok'],
    ['IPv6 listed (its /64 is listed: the address answers)', '2001:db8::10', `${V6}.zen.spamhaus.org`, ['127.0.0.4'], 'fail'],
    ['IPv6 refused', '2001:db8::10', `${V6}.zen.spamhaus.org`, ['127.255.255.254'], 'unknown'],
  ];
  for (const [what, ip, name, answer, expected] of zen) {
    it(`ZEN, public mirror: ${what} → ${expected}`, async () => {
      const resolver = tableResolver({ [`${name} A`]: answer });
      const r = await checkZen(ip, resolver);
      assert.equal(verdictOf(r), expected, r.message);
      assert.deepEqual(resolver.asked, [`${name} A`]);
    });
    const dqsName = name.replace('zen.spamhaus.org', `${KEY}.zen.dq.spamhaus.net`);
    it(`ZEN, DQS: ${what} → ${expected}, the key never shown`, async () => {
      const resolver = tableResolver({ [`${dqsName} A`]: answer });
      const r = await checkZen(ip, resolver, spamhausFor(KEY));
      assert.equal(verdictOf(r), expected, r.message);
      assert.deepEqual(resolver.asked, [`${dqsName} A`]);
      assert.match(r.subject, /Spamhaus ZEN \(DQS\)$/);
      assert.doesNotMatch(JSON.stringify(r), new RegExp(KEY));
      if (expected === 'unknown' && Array.isArray(answer)) assert.match(r.fix ?? '', /spam\.spamhaus_dqs_key/);
    });
  }

  const dbl: Array<[string, Answer, string]> = [
    ['not listed', 'nxdomain', 'ok'],
    ['low reputation', ['127.0.1.2'], 'fail'],
    ['IP queries not allowed', ['127.0.1.255'], 'unknown'],
    ['typing error', ['127.255.255.252'], 'unknown'],
    ['public resolver', ['127.255.255.254'], 'unknown'],
    ['too many queries', ['127.255.255.255'], 'unknown'],
  ];
  for (const [what, answer, expected] of dbl) {
    for (const key of [undefined, KEY]) {
      const zone = key ? `${key}.dbl.dq.spamhaus.net` : 'dbl.spamhaus.org';
      it(`DBL${key ? ', DQS' : ''}: ${what} → ${expected}`, async () => {
        const resolver = tableResolver({ [`example.com.${zone} A`]: answer });
        const r = await checkDbl('example.com', resolver, spamhausFor(key));
        assert.equal(verdictOf(r), expected, r.message);
        assert.deepEqual(resolver.asked, [`example.com.${zone} A`]);
      });
    }
  }

  const list = { zone: 'bl.example.net', score: 6, symbol: 'MAILRIG_RBL_BL_EXAMPLE_NET', errorSymbol: 'MAILRIG_RBL_BL_EXAMPLE_NET_ERROR' };
  const extra: Array<[string, string, string, Answer, string]> = [
    ['IPv4 not listed', '203.0.113.10', '10.113.0.203.bl.example.net', 'nxdomain', 'ok'],
    ['IPv4 listed', '203.0.113.10', '10.113.0.203.bl.example.net', ['127.0.0.2'], 'warn'],
    ['IPv4 listed, another code', '203.0.113.10', '10.113.0.203.bl.example.net', ['127.0.0.17'], 'warn'],
    ['IPv4 error answer', '203.0.113.10', '10.113.0.203.bl.example.net', ['127.255.255.254'], 'unknown'],
    ['IPv4 an answer that is no listing', '203.0.113.10', '10.113.0.203.bl.example.net', ['127.0.1.2'], 'ok'],
    ['IPv4 SERVFAIL', '203.0.113.10', '10.113.0.203.bl.example.net', { error: 'SERVFAIL' }, 'unknown'],
    ['IPv6 listed', '2001:db8::10', `${V6}.bl.example.net`, ['127.0.0.2'], 'warn'],
    ['IPv6 not listed', '2001:db8::10', `${V6}.bl.example.net`, 'nxdomain', 'ok'],
  ];
  for (const [what, ip, name, answer, expected] of extra) {
    it(`spam.blocklists: ${what} → ${expected}`, async () => {
      const resolver = tableResolver({ [`${name} A`]: answer });
      const r = await checkListed(ip, list, resolver);
      assert.equal(verdictOf(r), expected, r.message);
      assert.deepEqual(resolver.asked, [`${name} A`]);
    });
  }

  it('asks, for each address, ZEN and every configured list; for each domain, DBL; the DQS zones with a key', async () => {
    const config = configFrom({
      server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ipv6: '2001:db8::10', ssh: 'local', release: 'debian-13' },
      admin_email: 'admin@example.com',
      domains: { 'example.com': {} },
      spam: { spamhaus_dqs_key: KEY, blocklists: [{ zone: 'bl.example.net', score: 6 }] },
    });
    const resolver = tableResolver({});
    const results = await blocklists.run(testEnv({ config, records: [], resolver }));
    assert.deepEqual(resolver.asked.sort(), [
      `${V6}.${KEY}.zen.dq.spamhaus.net A`,
      `${V6}.bl.example.net A`,
      `10.113.0.203.${KEY}.zen.dq.spamhaus.net A`,
      '10.113.0.203.bl.example.net A',
      `example.com.${KEY}.dbl.dq.spamhaus.net A`,
    ].sort());
    assert.ok(results.every((r) => r.status === 'ok'));
  });
});

describe('check: open relay', () => {
  const servers: Server[] = [];
  after(() => servers.forEach((s) => s.close()));

  /**
   * An SMTP server on loopback answering RCPT with `rcpt`; records what the client sent, and calls
   * `closed` when the client's connection has ended (after which nothing more can arrive).
   */
  async function smtp(rcpt: string, log: string[], closed?: () => void): Promise<number> {
    const server = createServer((socket) => {
      socket.on('close', () => closed?.());
      socket.write('220-test ESMTP\r\n220 test ESMTP\r\n');
      let buf = '';
      socket.on('data', (d: Buffer) => {
        buf += d.toString();
        let i;
        while ((i = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          log.push(line);
          if (/^EHLO/i.test(line)) socket.write('250-test\r\n250 PIPELINING\r\n');
          else if (/^MAIL/i.test(line)) socket.write('250 2.1.0 Ok\r\n');
          else if (/^RCPT/i.test(line)) socket.write(`${rcpt}\r\n`);
          else if (/^QUIT/i.test(line)) socket.end('221 Bye\r\n');
          else socket.write('250 Ok\r\n');
        }
      });
      socket.on('error', () => {});
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  it('a 554 at RCPT is ok, and no DATA is ever sent', async () => {
    const log: string[] = [];
    let ended!: () => void;
    const connectionEnded = new Promise<void>((r) => (ended = r));
    const port = await smtp('554 5.7.1 <mailrig-relay-test@example.org>: Relay access denied', log, ended);
    const attempt = await tryRelay('127.0.0.1', port, 5000);
    assert.deepEqual(attempt, { code: 554, text: '5.7.1 <mailrig-relay-test@example.org>: Relay access denied', step: 'rcpt' });
    const r = judgeRelay('127.0.0.1', attempt);
    assert.equal(r.status, 'ok');
    assert.match(r.message, /^refused: 554 .*Relay access denied$/);
    await connectionEnded;
    assert.ok(!log.some((l) => /^DATA/i.test(l)), log.join(' | '));
    assert.match(log.find((l) => /^MAIL FROM/i.test(l)) ?? '', /example\.net/);
  });

  it('a 250 at RCPT is an open relay', async () => {
    const port = await smtp('250 2.1.5 Ok', []);
    const r = judgeRelay('127.0.0.1', await tryRelay('127.0.0.1', port, 5000));
    assert.equal(r.status, 'fail');
    assert.match(r.fix ?? '', /smtpd_relay_restrictions/);
  });

  it('a 4xx or no connection is "could not check"', async () => {
    const port = await smtp('450 4.7.1 try later', []);
    assert.equal(judgeRelay('127.0.0.1', await tryRelay('127.0.0.1', port, 5000)).unknown, true);
    assert.equal(judgeRelay('127.0.0.1', await tryRelay('127.0.0.1', 1, 2000)).unknown, true);
  });
});
