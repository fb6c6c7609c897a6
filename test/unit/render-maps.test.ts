// Postfix's lookup tables, row by row: who receives, what aliases expand to, who may send as what.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Config } from '../../src/config/model.js';
import {
  formatMap,
  localAliasRows,
  senderLoginRows,
  sendOnlyRecipientRows,
  virtualAliasRows,
  virtualDomainRows,
  virtualMailboxRows,
  type MapRow,
} from '../../src/render/maps.js';
import { configFrom, TEST_HASH } from '../support/fixtures.js';

const H = { password_hash: TEST_HASH };

function config(domains: Parameters<typeof configFrom>[0]['domains']): Config {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
    admin_email: 'admin@example.com',
    domains,
  });
}

/** The value for `key`, or undefined when the map has no such row. */
function lookup(rows: MapRow[], key: string): string | undefined {
  return rows.find(([k]) => k === key)?.[1];
}

const SEND_ONLY = config({
  'example.com': { mailboxes: { alice: H, noreply: { ...H, send_only: true } } },
});

const CATCH_ALL = config({
  'example.com': {
    mailboxes: { alice: { ...H, aliases: ['a.smith'] }, bob: H, robot: { ...H, send_only: true } },
    aliases: { sales: 'bob' },
    catch_all: 'alice',
  },
});

const OWNERSHIP = config({
  'example.com': {
    mailboxes: { alice: { ...H, aliases: ['a.smith', 'alice@example.net'] }, bob: H },
    aliases: { postmaster: 'alice', team: ['alice', 'bob', 'friend@elsewhere.example'], ext: 'someone@elsewhere.example' },
    catch_all: 'bob',
  },
  'example.net': { mailboxes: { carol: H } },
  'bücher.example': { mailboxes: { dave: { ...H, aliases: ['info'] } } },
});

describe('virtual domains and mailboxes', () => {
  it('lists every domain in its ASCII form', () => {
    assert.deepEqual(virtualDomainRows(OWNERSHIP), [
      ['example.com', 'OK'],
      ['example.net', 'OK'],
      ['xn--bcher-kva.example', 'OK'],
    ]);
  });

  it('lists receiving mailboxes only: send-only ones are refused by being absent', () => {
    assert.deepEqual(virtualMailboxRows(SEND_ONLY), [['alice@example.com', 'OK']]);
  });

  it('refuses send-only addresses explicitly, so a catch-all cannot take their mail', () => {
    assert.deepEqual(
      sendOnlyRecipientRows(CATCH_ALL).map(([k]) => k),
      ['robot@example.com'],
    );
    assert.match(lookup(sendOnlyRecipientRows(CATCH_ALL), 'robot@example.com') ?? '', /^550 5\.1\.1 /);
    assert.deepEqual(sendOnlyRecipientRows(OWNERSHIP), []);
  });
});

describe('virtual aliases', () => {
  const cases: Array<{ name: string; config: Config; key: string; want: string | undefined }> = [
    { name: 'a mailbox-owned alias delivers to its owner', config: CATCH_ALL, key: 'a.smith@example.com', want: 'alice@example.com' },
    { name: 'a standalone alias delivers to its target', config: CATCH_ALL, key: 'sales@example.com', want: 'bob@example.com' },
    { name: 'several targets are joined', config: OWNERSHIP, key: 'team@example.com', want: 'alice@example.com, bob@example.com, friend@elsewhere.example' },
    { name: 'an owned alias in another managed domain', config: OWNERSHIP, key: 'alice@example.net', want: 'alice@example.com' },
    { name: 'IDN domains appear in ASCII', config: OWNERSHIP, key: 'info@xn--bcher-kva.example', want: 'dave@xn--bcher-kva.example' },
    { name: 'the catch-all is an @domain row', config: CATCH_ALL, key: '@example.com', want: 'alice@example.com' },
    { name: 'with a catch-all, mailboxes map to themselves', config: CATCH_ALL, key: 'bob@example.com', want: 'bob@example.com' },
    { name: '… but send-only mailboxes do not (they are refused at RCPT)', config: CATCH_ALL, key: 'robot@example.com', want: undefined },
    { name: 'without a catch-all, no identity rows', config: SEND_ONLY, key: 'alice@example.com', want: undefined },
    { name: 'domains without a catch-all get no @domain row', config: OWNERSHIP, key: '@example.net', want: undefined },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(lookup(virtualAliasRows(c.config), c.key), c.want));
  }

  it('puts the catch-all after the addresses it would otherwise catch', () => {
    const keys = virtualAliasRows(CATCH_ALL).map(([k]) => k);
    assert.equal(keys[keys.length - 1], '@example.com');
  });

  it('is ordered by domain, then address, whatever the order in the config', () => {
    const keys = virtualAliasRows(OWNERSHIP).map(([k]) => k);
    assert.deepEqual(keys, [
      'a.smith@example.com',
      'alice@example.com',
      'bob@example.com',
      'ext@example.com',
      'postmaster@example.com',
      'team@example.com',
      '@example.com',
      'alice@example.net',
      'info@xn--bcher-kva.example',
    ]);
  });
});

describe('sender login maps: a user sends as itself and its own aliases only', () => {
  const rows = senderLoginRows(OWNERSHIP);
  const cases: Array<[address: string, owners: string | undefined, why: string]> = [
    ['alice@example.com', 'alice@example.com', 'a mailbox sends as itself'],
    ['a.smith@example.com', 'alice@example.com', 'its own alias'],
    ['alice@example.net', 'alice@example.com', 'its own alias in another domain'],
    ['postmaster@example.com', 'alice@example.com', 'a standalone alias that delivers to it'],
    ['team@example.com', 'alice@example.com, bob@example.com', 'every local target of a shared alias'],
    ['ext@example.com', undefined, 'an alias to an outside address gives nobody the right'],
    ['info@xn--bcher-kva.example', 'dave@xn--bcher-kva.example', 'IDN owned alias, ASCII'],
    ['anything@example.com', undefined, 'the catch-all grants nothing'],
    ['@example.com', undefined, 'no wildcard rows'],
  ];
  for (const [address, owners, why] of cases) {
    it(`${address}: ${why}`, () => assert.equal(lookup(rows, address), owners));
  }

  it('lets a send-only mailbox send as itself', () => {
    assert.equal(lookup(senderLoginRows(SEND_ONLY), 'noreply@example.com'), 'noreply@example.com');
  });
});

describe('map files', () => {
  it('formats a header comment and one row per line', () => {
    assert.equal(
      formatMap(['What this is.'], [['a@example.com', 'b@example.com']]),
      '# What this is.\n# Generated by mailrig from mailrig.yaml: edit that file, not this one.\na@example.com b@example.com\n',
    );
  });

  it('writes /etc/aliases rows forwarding root (and postmaster) to the admin', () => {
    assert.deepEqual(localAliasRows(SEND_ONLY), [
      ['postmaster', 'root'],
      ['root', 'admin@example.com'],
    ]);
    assert.match(formatMap([], localAliasRows(SEND_ONLY), ': '), /^root: admin@example\.com$/m);
  });
});
