// ACME issuance against a fake CA: names split at the CA's limit (the mail host stays in the first
// certificate), a name whose validation fails is reported by name while the others are still issued
// in a fresh order, challenges are cleaned up, and the DNS-01 update carries the right TXT record.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { issueCertificates, type AcmeClientLike, type AuthorizationLike } from '../../src/tls/acme.js';
import { challengeChange, dnsResponder, httpResponder } from '../../src/tls/challenges.js';
import { splitNames } from '../../src/tls/directory.js';
import { fixtureKeyDir } from '../support/fixtures.js';

const KEY = readFileSync(join(fixtureKeyDir(), 'tls/current.key'), 'utf8');

describe('names per certificate', () => {
  it('keeps everything in one certificate up to the limit', () => {
    assert.deepEqual(splitNames(['mail.a.example', 'mta-sts.a.example'], 100), [['mail.a.example', 'mta-sts.a.example']]);
  });
  it('splits 250 names into 100 + 100 + 50, the mail host first, duplicates dropped', () => {
    const names = ['mail.example.com', ...Array.from({ length: 249 }, (_, i) => `n${i}.example.com`), 'MAIL.example.com'];
    const chunks = splitNames(names, 100);
    assert.deepEqual(chunks.map((c) => c.length), [100, 100, 50]);
    assert.equal(chunks[0]?.[0], 'mail.example.com');
  });
});

/** A CA that fails validation of the names in `failing`; records what happened. */
function fakeCa(failing: Set<string>) {
  const events: string[] = [];
  let orders = 0;
  const client: AcmeClientLike = {
    async createAccount(data) {
      events.push(`account ${data.contact.join(',')} tos=${data.termsOfServiceAgreed}`);
    },
    async createOrder(data) {
      orders++;
      events.push(`order ${data.identifiers.map((i) => i.value).join(',')}`);
      return { names: data.identifiers.map((i) => i.value) };
    },
    async getAuthorizations(order: never) {
      return (order as { names: string[] }).names.map(
        (value): AuthorizationLike => ({ identifier: { type: 'dns', value }, status: 'pending', challenges: [{ type: 'http-01', url: value, token: `tok-${value.replace(/\./g, '_')}` }] }),
      );
    },
    async getChallengeKeyAuthorization(c: never) {
      return `ka-${(c as { token: string }).token}`;
    },
    async completeChallenge() {},
    async waitForValidStatus(c: never) {
      const name = (c as { url: string }).url;
      if (failing.has(name)) throw new Error(`${name}: connection refused on port 80`);
    },
    async finalizeOrder(order: never, csr: Buffer) {
      assert.ok(csr.length > 0);
      return order;
    },
    async getCertificate(order: never) {
      return `CERT ${(order as { names: string[] }).names.join(',')}`;
    },
  };
  return { client, events, orders: () => orders };
}

function memoryFiles() {
  const files = new Map<string, string>();
  const log: string[] = [];
  return {
    files,
    log,
    writer: {
      write: async (p: string, c: string) => {
        files.set(p, c);
        log.push(`+${p}`);
      },
      remove: async (p: string) => {
        files.delete(p);
        log.push(`-${p}`);
      },
    },
  };
}

describe('issuing with failures', () => {
  it('reports the failing name and issues the others in a second order', async () => {
    const ca = fakeCa(new Set(['autoconfig.example.com']));
    const mem = memoryFiles();
    const names = ['mail.example.com', 'mta-sts.example.com', 'autoconfig.example.com'];
    const result = await issueCertificates({
      client: ca.client, email: 'admin@example.com', keyPem: KEY, names, limit: 100,
      responder: httpResponder('/var/www/mailrig/acme', mem.writer), log: () => undefined,
    });
    assert.deepEqual(result.failed.map((f) => f.name), ['autoconfig.example.com']);
    assert.match(result.failed[0]?.reason ?? '', /connection refused/);
    assert.deepEqual(result.certificates, [{ names: ['mail.example.com', 'mta-sts.example.com'], pem: 'CERT mail.example.com,mta-sts.example.com' }]);
    assert.deepEqual(ca.events, [
      'account mailto:admin@example.com tos=true',
      'order mail.example.com,mta-sts.example.com,autoconfig.example.com',
      'order mail.example.com,mta-sts.example.com',
    ]);
    assert.equal(mem.files.size, 0, 'every token file is removed again');
    assert.ok(mem.log.includes('+/var/www/mailrig/acme/.well-known/acme-challenge/tok-mail_example_com'));
  });

  it('one certificate per chunk at the limit; a chunk whose every name fails yields none', async () => {
    const ca = fakeCa(new Set(['c.example', 'd.example']));
    const result = await issueCertificates({
      client: ca.client, email: 'a@example.com', keyPem: KEY, names: ['a.example', 'b.example', 'c.example', 'd.example'], limit: 2,
      responder: httpResponder('/w', memoryFiles().writer), log: () => undefined,
    });
    assert.deepEqual(result.certificates.map((c) => c.names), [['a.example', 'b.example']]);
    assert.deepEqual(result.failed.map((f) => f.name).sort(), ['c.example', 'd.example']);
  });
});

describe('DNS-01', () => {
  it('adds and removes exactly the challenge TXT record in the name\'s zone', async () => {
    const sent: string[] = [];
    const responder = dnsResponder({
      server: { host: '127.0.0.1', port: 53 },
      key: { name: 'k', secret: Buffer.alloc(32) },
      zoneOf: () => 'example.com',
      send: async (_s, zone, changes) => {
        for (const c of changes) sent.push(`${zone} ${c.name} +${c.add.map((a) => a.value).join()} -${c.remove.map((r) => r.value).join()} replace=${c.replaceRRset}`);
      },
    });
    await responder.present('mail.example.com', 'tok', 'digest123');
    await responder.cleanup('mail.example.com', 'tok', 'digest123');
    assert.deepEqual(sent, [
      'example.com _acme-challenge.mail.example.com +digest123 - replace=false',
      'example.com _acme-challenge.mail.example.com + -digest123 replace=false',
    ]);
    assert.equal(challengeChange('x.example', 'd', 'add').add[0]?.type, 'TXT');
  });
});
