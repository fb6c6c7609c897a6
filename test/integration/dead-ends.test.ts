// Ways into a project state that used to stop every command: a domain written into mailrig.yaml by
// hand (no keys yet), and key files left by an interrupted run.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureProject, mailrig } from '../support/project.js';

const HAND_DOMAIN = `  hand.example:
    mailboxes: {}
    aliases:
      postmaster: alice@example.com
      abuse: alice@example.com
`;

describe('dead ends', () => {
  it('a domain added to mailrig.yaml by hand: the message names the command that makes its keys, and that command works', () => {
    const p = fixtureProject();
    const text = p.read().replace('\nmail:\n', `\n${HAND_DOMAIN}\nmail:\n`);
    assert.notEqual(text, p.read());
    writeFileSync(p.config, text);
    const dns = mailrig(p.dir, ['dns']);
    assert.equal(dns.code, 2);
    assert.match(dns.err, /no DKIM keys for hand\.example; mailrig domain add hand\.example makes them/);
    const add = mailrig(p.dir, ['domain', 'add', 'hand.example']);
    assert.equal(add.code, 0, add.err);
    assert.match(add.out, /hand\.example is already a mail domain in mailrig\.yaml; made the keys it lacked in \.mailrig\/: dkim\/hand\.example\/r\d+\.pem, dkim\/hand\.example\/e\d+\.pem/);
    assert.match(add.out, /DNS records of hand\.example \(\d+\):[^]*Zone hand\.example[^]*r\d+\._domainkey +TXT +v=DKIM1; k=rsa/);
    assert.equal(p.read(), text, 'mailrig.yaml is left as written');
    const again = mailrig(p.dir, ['dns', '--domain', 'hand.example']);
    assert.equal(again.code, 0, again.err);
    const twice = mailrig(p.dir, ['domain', 'add', 'hand.example']);
    assert.equal(twice.code, 0, twice.err);
    assert.match(twice.out, /already a mail domain in mailrig\.yaml, with its keys; nothing changed/);
  });

  it('key files an interrupted run left behind do not stop domain add', () => {
    const p = fixtureProject();
    const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    const dir = join(p.keyDir, 'dkim/new.example');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, `r${stamp}.pem`), 'left by a run that was killed\n', { mode: 0o600 });
    writeFileSync(join(dir, `e${stamp}.pem`), 'left by a run that was killed\n', { mode: 0o600 });
    const r = mailrig(p.dir, ['domain', 'add', 'new.example']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`Created its DKIM keys in \\.mailrig/: dkim/new\\.example/r${stamp}-1\\.pem, dkim/new\\.example/e${stamp}-1\\.pem`));
    assert.equal(readdirSync(dir).length, 4);
    assert.equal(mailrig(p.dir, ['dns', '--domain', 'new.example']).code, 0);
  });

  it('key files an interrupted rotation left behind do not stop dkim rotate start', () => {
    const p = fixtureProject();
    const stamp = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    for (const name of [`r${stamp}.pem`, `e${stamp}.pem`]) {
      writeFileSync(join(p.keyDir, 'dkim/example.com', name), 'left by a run that was killed\n', { mode: 0o600 });
    }
    const r = mailrig(p.dir, ['dkim', 'rotate', 'start', 'example.com']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`new selectors r${stamp} and e${stamp}`));
    const dns = mailrig(p.dir, ['dns', '--domain', 'example.com']);
    assert.equal(dns.code, 0, dns.err);
    assert.match(dns.out, new RegExp(`r${stamp}\\._domainkey +TXT +v=DKIM1; k=rsa`));
  });
});
