// Forwarding: postsrsd's settings and secret, the Postfix tables that ask it (envelope only, with the
// original sender restored for mail delivered here), the ARC seal on arriving mail, and the SRS
// secret in the key store (made once, kept).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { ensureKeys, loadKeys } from '../../src/keys/store.js';
import { SRS_SECRET_FILE } from '../../src/keys/srs.js';
import { POSTSRSD_DEFAULTS, POSTSRSD_SECRET, SRS_PORTS } from '../../src/render/postsrsd.js';
import { packagesFor, portsFor, render } from '../../src/services/index.js';
import type { FileSpec } from '../../src/render/types.js';
import { configFrom, fixtureKeyDir, fixtureKeys, TEST_HASH } from '../support/fixtures.js';

const DOMAINS = ['example.com', 'example.net', 'xn--bcher-kva.example'];

function files(release: Release): FileSpec[] {
  const config = configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release },
    admin_email: 'admin@example.com',
    domains: {
      'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } }, aliases: { fwd: 'dave@remote.example' } },
      'example.net': {},
      'bücher.example': {},
    },
  });
  return render({ config, keys: fixtureKeys(DOMAINS), release });
}

const get = (fs: FileSpec[], path: string) => fs.find((f) => f.path === path) ?? assert.fail(`${path} is rendered`);
/** `name<sep>value` settings of a Postfix or shell file, continuation lines joined; the last one wins. */
function settings(text: string, sep: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const at = line.indexOf(sep);
    if (line.startsWith('#') || at < 0) continue;
    out.set(line.slice(0, at).trim(), line.slice(at + sep.length).trim());
  }
  return out;
}

for (const release of ['debian-12', 'debian-13'] as const) {
  describe(`forwarding (${release})`, () => {
    const fs = files(release);

    it('postsrsd rewrites into the first domain and leaves the other mail domains and the host name alone', () => {
      const d = get(fs, POSTSRSD_DEFAULTS);
      assert.equal(d.service, 'postsrsd');
      assert.equal(d.onChange, 'restart');
      const s = settings(d.content, '=');
      assert.equal(s.get('SRS_DOMAIN'), 'example.com');
      assert.equal(s.get('SRS_EXCLUDE_DOMAINS'), 'example.net,xn--bcher-kva.example,mail.example.com');
      assert.equal(s.get('SRS_SECRET'), POSTSRSD_SECRET);
      assert.equal(s.get('SRS_FORWARD_PORT'), String(SRS_PORTS.forward));
      assert.equal(s.get('SRS_REVERSE_PORT'), String(SRS_PORTS.reverse));
      assert.equal(s.get('SRS_LISTEN_ADDR'), '127.0.0.1');
      assert.equal(s.get('RUN_AS'), 'postsrsd');
    });

    it('the secret goes to a root-only file, from the key store, and is never shown', () => {
      const f = get(fs, POSTSRSD_SECRET);
      assert.deepEqual([f.mode, f.owner, f.group, f.secret], ['0600', 'root', 'root', true]);
      assert.equal(f.content, `${fixtureKeys(DOMAINS).srsSecret}\n`);
      assert.ok(fixtureKeys(DOMAINS).srsSecret.length >= 32);
    });

    it('Postfix rewrites the envelope only, reverses bounces, and restores the sender for local delivery', () => {
      const main = settings(get(fs, '/etc/postfix/main.cf').content, ' = ');
      assert.equal(main.get('sender_canonical_maps'), `tcp:127.0.0.1:${SRS_PORTS.forward}`);
      assert.equal(main.get('sender_canonical_classes'), 'envelope_sender');
      assert.equal(main.get('recipient_canonical_maps'), `tcp:127.0.0.1:${SRS_PORTS.reverse}`);
      assert.equal(main.get('recipient_canonical_classes'), 'envelope_recipient');
      assert.equal(main.get('lmtp_generic_maps'), `tcp:127.0.0.1:${SRS_PORTS.reverse}`);
      // No header is rewritten on the way out: From: and the DKIM signatures stay as they came.
      assert.equal(main.get('smtp_generic_maps'), undefined);
      assert.equal(main.get('canonical_maps'), undefined);
    });

    it('rspamd seals arriving mail with the key of the domain it was sent to; not submissions', () => {
      const arc = get(fs, '/etc/rspamd/local.d/arc.conf').content;
      assert.match(arc, /^sign_inbound = true;$/m);
      assert.match(arc, /^use_domain = "recipient";$/m);
      assert.match(arc, /^sign_authenticated = false;$/m);
      assert.match(arc, /^sign_local = false;$/m);
      assert.match(arc, /"example\.com" \{\n {4}selector = "r20260115";/);
      assert.doesNotMatch(arc, /selector = "e20260115"/, 'no Ed25519 seal');
    });

    it('postsrsd is a daemon of every host: its package and its two loopback ports', () => {
      const config = configFrom({
        server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release },
        admin_email: 'admin@example.com',
        domains: { 'example.com': {} },
      });
      assert.ok(packagesFor(config, { release, init: 'systemd' }).includes('postsrsd'));
      assert.deepEqual(portsFor(config).postsrsd, [SRS_PORTS.forward, SRS_PORTS.reverse]);
    });
  });
}

describe('the SRS secret in the key store', () => {
  it('init makes it (0600); loading keeps it; a store without one gets one, once', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'mailrig-srs-'));
    try {
      const dir = join(parent, '.mailrig');
      const created = await ensureKeys(dir, { domains: ['example.com'], hostname: 'mail.example.com' });
      assert.ok(created.includes(SRS_SECRET_FILE));
      assert.equal(statSync(join(dir, SRS_SECRET_FILE)).mode & 0o777, 0o600);
      const first = loadKeys(dir, ['example.com']).srsSecret;
      assert.equal(first, readFileSync(join(dir, SRS_SECRET_FILE), 'utf8').trim());
      assert.deepEqual(await ensureKeys(dir, { domains: ['example.com'], hostname: 'mail.example.com' }), []);
      assert.equal(loadKeys(dir, ['example.com']).srsSecret, first, 'kept across runs');
      rmSync(join(dir, SRS_SECRET_FILE));
      const made = loadKeys(dir, ['example.com']).srsSecret;
      assert.notEqual(made, first);
      assert.equal(loadKeys(dir, ['example.com']).srsSecret, made, 'made once, then kept');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('the fixture store has one', () => {
    assert.match(readFileSync(join(fixtureKeyDir(), SRS_SECRET_FILE), 'utf8'), /^\S{32,}\n$/);
  });
});
