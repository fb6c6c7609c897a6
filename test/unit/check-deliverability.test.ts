// Deliverability: Spamhaus answers (listed, refused = could not check, NXDOMAIN = clean, timeout),
// and the open-relay attempt against SMTP servers on loopback that refuse and that accept.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, describe, it } from 'node:test';
import { checkDbl, checkZen, zenName } from '../../src/check/deliverability/blocklists.js';
import { judgeRelay } from '../../src/check/deliverability/relay.js';
import { tryRelay } from '../../src/check/net/relay.js';
import { tableResolver } from '../support/check-env.js';

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
