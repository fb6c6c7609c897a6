// The DKIM rotation state machine: pure transitions with the clock given, then the command on a real
// key store with an injected resolver standing in for DNS (published or not).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { runRotate, type DkimIo } from '../../src/cli/dkim.js';
import { buildRecords } from '../../src/dns/records.js';
import type { DnsResolver } from '../../src/dns/resolver.js';
import { RuntimeError, UsageError } from '../../src/errors.js';
import { finishRotation, phaseOf, startRotation, switchRotation, type StoredSelector } from '../../src/keys/rotation.js';
import { loadConfig } from '../../src/config/load.js';
import { loadKeys, publicKeys } from '../../src/keys/store.js';
import { FIXTURES, fixtureKeyDir } from '../support/fixtures.js';

const T0 = new Date('2026-03-01T12:00:00Z');
const days = (n: number) => new Date(T0.getTime() + n * 86_400_000);
const INITIAL: StoredSelector[] = [
  { selector: 'r20260115', algorithm: 'rsa', state: 'active' },
  { selector: 'e20260115', algorithm: 'ed25519', state: 'active' },
];
const states = (s: StoredSelector[]) => s.map((x) => `${x.selector}:${x.state}`);

describe('dkim rotation transitions', () => {
  it('start adds an RSA and an Ed25519 selector in state next, named for the day', () => {
    const { selectors, added } = startRotation('example.com', INITIAL, T0);
    assert.deepEqual(states(selectors), ['r20260115:active', 'e20260115:active', 'r20260301:next', 'e20260301:next']);
    assert.deepEqual(added.map((s) => s.since), [T0.toISOString(), T0.toISOString()]);
    assert.equal(phaseOf(selectors), 'published');
  });

  it('switch makes next active and active retiring for the grace period (7 days unless told)', () => {
    const started = startRotation('example.com', INITIAL, T0).selectors;
    const switched = switchRotation('example.com', started, days(1));
    assert.deepEqual(states(switched), ['r20260115:retiring', 'e20260115:retiring', 'r20260301:active', 'e20260301:active']);
    assert.equal(switched[0]?.retireAfter, days(8).toISOString());
    assert.equal(switchRotation('example.com', started, days(1), 2)[0]?.retireAfter, days(3).toISOString());
    assert.equal(phaseOf(switched), 'switched');
  });

  it('finish refuses inside the grace period, then retires the old keys (or at once with force)', () => {
    const switched = switchRotation('example.com', startRotation('example.com', INITIAL, T0).selectors, T0);
    assert.throws(() => finishRotation('example.com', switched, days(6)), (e: unknown) => e instanceof UsageError && /1 more day.*--force/.test(e.message));
    const finished = finishRotation('example.com', switched, days(7));
    assert.deepEqual(states(finished), ['r20260115:retired', 'e20260115:retired', 'r20260301:active', 'e20260301:active']);
    assert.equal(finished[0]?.retireAfter, undefined);
    assert.deepEqual(states(finishRotation('example.com', switched, days(1), true)), states(finished));
    assert.equal(phaseOf(finished), 'idle');
  });

  it('each step refuses out of order, saying what comes next', () => {
    const started = startRotation('example.com', INITIAL, T0).selectors;
    const switched = switchRotation('example.com', started, T0);
    const cases: Array<[string, () => unknown, RegExp]> = [
      ['start twice', () => startRotation('example.com', started, T0), /already started.*rotate switch/],
      ['start before finish', () => startRotation('example.com', switched, T0), /not finished.*rotate finish/],
      ['switch without start', () => switchRotation('example.com', INITIAL, T0), /rotate start/],
      ['finish without switch', () => finishRotation('example.com', started, T0, true), /no old keys to retire/],
      ['start without keys', () => startRotation('example.com', [], T0), /domain add/],
    ];
    for (const [what, step, message] of cases) {
      assert.throws(step, (e: unknown) => e instanceof UsageError && message.test(e.message), what);
    }
  });

  it('a second rotation on the same day gets distinct selector names', () => {
    const once = finishRotation('example.com', switchRotation('example.com', startRotation('example.com', INITIAL, T0).selectors, T0), T0, true);
    const twice = startRotation('example.com', once, T0);
    assert.deepEqual(twice.added.map((s) => s.selector), ['r20260301-1', 'e20260301-1']);
  });
});

/** A resolver that answers from the records mailrig expects, for the names listed as published. */
function fakeDns(configPath: string, published: (name: string) => boolean): DnsResolver {
  return {
    description: 'fake DNS',
    async lookup(name, type) {
      const { config } = loadConfig(configPath);
      const keys = loadKeys(join(dirname(configPath), '.mailrig'), config.domains.map((d) => d.name));
      const records = buildRecords(config, publicKeys(keys)).filter((r) => r.name === name && r.type === type && published(name));
      return records.length ? { status: 'found', records: records.map((r) => ({ value: r.value, ttl: 3600 })) } : { status: 'nxdomain', records: [] };
    },
  };
}

function project(): { config: string; keys: string; io: (resolver?: DnsResolver, now?: Date) => DkimIo & { text: () => string } } {
  const keys = fixtureKeyDir();
  const config = join(dirname(keys), 'mailrig.yaml');
  copyFileSync(join(FIXTURES, 'edit/user-add.before.yaml'), config);
  return {
    config,
    keys,
    io: (resolver, now = T0) => {
      let text = '';
      return {
        out: (t) => (text += t),
        input: new PassThrough(),
        output: new PassThrough(),
        interactive: false,
        confirm: async () => false,
        now: () => now,
        ...(resolver ? { resolver } : {}),
        text: () => text,
      };
    },
  };
}

const selectorsIn = (keys: string, domain: string) =>
  states((JSON.parse(readFileSync(join(keys, 'keys.json'), 'utf8')) as { dkim: Record<string, StoredSelector[]> }).dkim[domain] ?? []);

describe('mailrig dkim rotate (key store, injected DNS)', () => {
  it('start writes new keys and prints their records; switch waits for DNS; finish waits for the grace period', async () => {
    const p = project();
    const start = p.io();
    assert.equal(await runRotate('start', 'example.com', { config: p.config }, start), 0);
    assert.match(start.text(), /r20260301\._domainkey\s+TXT\s+v=DKIM1; k=rsa; p=/);
    assert.match(start.text(), /e20260301\._domainkey\s+TXT\s+v=DKIM1; k=ed25519; p=/);
    assert.ok(existsSync(join(p.keys, 'dkim/example.com/r20260301.pem')));
    assert.deepEqual(selectorsIn(p.keys, 'example.com'), ['r20260115:active', 'e20260115:active', 'r20260301:next', 'e20260301:next']);

    const nothing = fakeDns(p.config, () => false);
    await assert.rejects(runRotate('switch', 'example.com', { config: p.config }, p.io(nothing)), (e: unknown) => {
      assert.ok(e instanceof RuntimeError);
      assert.match(e.message, /not published yet; nothing switched/);
      assert.match(e.detail ?? '', /MISSING\s+TXT\s+r20260301\._domainkey\.example\.com/);
      return true;
    });
    assert.deepEqual(selectorsIn(p.keys, 'example.com').slice(2), ['r20260301:next', 'e20260301:next'], 'refused: nothing changed');

    const onlyRsa = fakeDns(p.config, (n) => n.startsWith('r20260301.'));
    await assert.rejects(runRotate('switch', 'example.com', { config: p.config }, p.io(onlyRsa)), RuntimeError, 'both selectors must be visible');

    const all = fakeDns(p.config, () => true);
    const sw = p.io(all, days(1));
    assert.equal(await runRotate('switch', 'example.com', { config: p.config, grace: '3' }, sw), 0);
    assert.match(sw.text(), /stay published until 2026-03-05/);
    assert.deepEqual(selectorsIn(p.keys, 'example.com'), ['r20260115:retiring', 'e20260115:retiring', 'r20260301:active', 'e20260301:active']);

    await assert.rejects(runRotate('finish', 'example.com', { config: p.config }, p.io(undefined, days(2))), UsageError);
    const status = p.io(undefined, days(2));
    await runRotate('status', undefined, { config: p.config, json: true }, status);
    const rows = JSON.parse(status.text()) as Array<{ domain: string; phase: string }>;
    assert.deepEqual(rows.map((r) => [r.domain, r.phase]), [['example.com', 'switched'], ['xn--bcher-kva.example', 'idle']]);

    const fin = p.io(undefined, days(4));
    assert.equal(await runRotate('finish', 'example.com', { config: p.config }, fin), 0);
    assert.match(fin.text(), /r20260115\._domainkey\.example\.com/);
    assert.deepEqual(selectorsIn(p.keys, 'example.com'), ['r20260115:retired', 'e20260115:retired', 'r20260301:active', 'e20260301:active']);
    assert.ok(existsSync(join(p.keys, 'dkim/example.com/r20260115.pem')), 'retired key files are kept');
  });

  it('switch --force goes ahead without DNS, saying so', async () => {
    const p = project();
    await runRotate('start', 'bücher.example', { config: p.config }, p.io());
    const forced = p.io(fakeDns(p.config, () => false));
    assert.equal(await runRotate('switch', 'bücher.example', { config: p.config, force: true }, forced), 0);
    assert.match(forced.text(), /--force: switching although DNS does not show/);
    assert.deepEqual(selectorsIn(p.keys, 'xn--bcher-kva.example').slice(2), ['r20260301:active', 'e20260301:active']);
  });

  it('refuses an unknown domain or action', async () => {
    const p = project();
    await assert.rejects(runRotate('start', 'example.org', { config: p.config }, p.io()), /not a mail domain of this server/);
    await assert.rejects(runRotate('begin', 'example.com', { config: p.config }, p.io()), /use one of start, switch, finish, status/);
  });
});
