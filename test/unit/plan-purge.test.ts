// The stored data of optional services (Roundcube's database, Radicale's collections): kept when
// the config switches the service off, with one line saying what --purge would delete; deleted only
// with --purge, only while the service is off, only when the host has it — and nothing else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Release } from '../../src/config/model.js';
import { factsScript, parseFacts, type Facts } from '../../src/host/facts.js';
import { purgeScript } from '../../src/apply/scripts.js';
import { desiredState } from '../../src/plan/desired.js';
import { formatPlan, summarize } from '../../src/plan/format.js';
import { isEmpty, makePlan, sha256, type DesiredState, type Purge } from '../../src/plan/plan.js';
import { RADICALE } from '../../src/render/radicale.js';
import { ROUNDCUBE_DATABASE_DIR } from '../../src/render/roundcube.js';
import { DATA_PATHS } from '../../src/services/index.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';

const RELEASE: Release = 'debian-12';
const keys = fixtureKeys(['example.com']);

function desired(extra: Record<string, unknown>, purgeData = false): DesiredState {
  const config = configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: RELEASE },
    admin_email: 'admin@example.com',
    domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
    ...extra,
  } as never);
  return { ...desiredState({ config, keys, release: RELEASE }, 'sysv'), purgeData };
}

/** A host (without systemd, cron running the schedules) that matches `d` exactly, holding the given data paths. */
function hostMatching(d: DesiredState, data: string[]): Facts {
  return {
    os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    release: RELEASE,
    init: 'sysv',
    packages: Object.fromEntries(d.packages.map((p) => [p, '1'])),
    files: Object.fromEntries(d.files.map((f) => [f.path, { sha256: sha256(f.content), mode: f.mode, owner: f.owner, group: f.group }])),
    services: { ...Object.fromEntries(d.daemons.map((s, i) => [s, 100 + i])), cron: 99 },
    users: ['vmail'],
    timers: [],
    managed: [],
    data,
  };
}

const BOTH = [ROUNDCUBE_DATABASE_DIR, RADICALE.collections];
const paths = (ps: Purge[]) => ps.map((p) => p.path);

describe('plan: data of switched-off optional services', () => {
  it('the descriptors declare Roundcube\'s database and Radicale\'s collections, and the facts ask whether they exist', () => {
    assert.deepEqual([...DATA_PATHS].sort(), [...BOTH].sort());
    const script = factsScript({ packages: [], paths: [], processes: {}, users: [], data: [...DATA_PATHS] });
    assert.match(script, new RegExp(`for p in '?${RADICALE.collections}'? '?${ROUNDCUBE_DATABASE_DIR}'?; do \\[ -e "\\$p" \\] && echo "\\$p"`));
    const facts = parseFacts(`### mailrig-facts data\n${RADICALE.collections}\n`);
    assert.deepEqual(facts.data, [RADICALE.collections]);
    assert.deepEqual(parseFacts('').data, []);
  });

  it('off, without --purge: nothing is deleted and the plan stays empty; one line says what --purge would delete', () => {
    const off = desired({});
    const plan = makePlan(off, hostMatching(off, BOTH));
    assert.ok(isEmpty(plan));
    assert.deepEqual(plan.purges, []);
    assert.deepEqual(paths(plan.kept), [RADICALE.collections, ROUNDCUBE_DATABASE_DIR]);
    const text = formatPlan(plan, { before: new Map() });
    assert.match(text, /^No changes/);
    assert.match(text, /apply --purge would delete/);
    assert.match(text, /\/var\/lib\/radicale\/collections \(radicale: calendars and contacts\)/);
  });

  it('off, with --purge: the plan deletes exactly the data the host holds, and lists it', () => {
    const off = desired({}, true);
    const plan = makePlan(off, hostMatching(off, [ROUNDCUBE_DATABASE_DIR]));
    assert.ok(!isEmpty(plan));
    assert.deepEqual(plan.purges, [{ kind: 'service-data', path: ROUNDCUBE_DATABASE_DIR, what: "roundcube: Roundcube's database (users' settings, contacts, identities)" }]);
    assert.deepEqual(plan.kept, []);
    const text = formatPlan(plan, { before: new Map() });
    assert.match(text, /^Data to delete \(apply --purge; the service is off\):\n {2}- \/var\/lib\/dbconfig-common\/sqlite3\/roundcube \(roundcube: /m);
    assert.equal(summarize(plan), '1 data directory to delete');
    // Once it is gone, --purge has nothing left to do.
    assert.ok(isEmpty(makePlan(off, hostMatching(off, []))));
  });

  it('on, with --purge: its data is never touched; only the other service\'s, which is off', () => {
    const webmailOn = desired({ webmail: 'roundcube' }, true);
    const plan = makePlan(webmailOn, hostMatching(webmailOn, BOTH));
    assert.deepEqual(paths(plan.purges), [RADICALE.collections]);
    const bothOn = desired({ webmail: 'roundcube', dav: 'radicale' }, true);
    const none = makePlan(bothOn, hostMatching(bothOn, BOTH));
    assert.ok(isEmpty(none));
    assert.deepEqual(none.kept, []);
  });

  it('the purge script deletes only declared data paths and mail directories, nothing else', () => {
    const script = purgeScript([
      { kind: 'service-data', path: RADICALE.collections, what: 'x' },
      { kind: 'service-data', path: '/var/lib/radicale', what: 'not declared' },
      { kind: 'service-data', path: '/', what: 'not declared' },
      { kind: 'mail', path: '/var/vmail/example.com/bob', what: 'bob@example.com' },
      { kind: 'mail', path: '/var/vmail/example.com/../etc', what: 'escape' },
    ]);
    const deleted = script.split('\n').filter((l) => l.startsWith('rm '));
    assert.deepEqual(deleted, [`rm -rf -- ${RADICALE.collections}`, 'rm -rf -- /var/vmail/example.com/bob']);
  });
});
