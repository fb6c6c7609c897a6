// Plans from desired state and recorded facts: what is written, rebuilt, reloaded — and that a host
// that matches produces an empty plan.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Facts } from '../../src/host/facts.js';
import { formatPlan, summarize } from '../../src/plan/format.js';
import { isEmpty, makePlan, sha256, type DesiredState } from '../../src/plan/plan.js';
import { serviceCommand, stagedDirs } from '../../src/apply/scripts.js';
import type { FileSpec } from '../../src/render/types.js';

const file = (path: string, content: string, extra: Partial<FileSpec> = {}): FileSpec => ({
  path,
  content,
  mode: '0644',
  owner: 'root',
  group: 'root',
  service: 'postfix',
  onChange: 'reload',
  secret: false,
  ...extra,
});

const desired: DesiredState = {
  packages: ['postfix', 'dovecot-core'],
  daemons: ['dovecot', 'postfix'],
  files: [
    file('/etc/postfix/main.cf', 'myhostname = mail.example.com\n'),
    file('/etc/postfix/master.cf', 'smtp inet n - y - 1 postscreen\n', { onChange: 'restart' }),
    file('/etc/postfix/virtual', 'a@example.com b@example.com\n', { onChange: 'postmap' }),
    file('/etc/dovecot/users', 'alice@example.com:{ARGON2ID}secret\n', { service: 'dovecot', mode: '0640', group: 'dovecot', secret: true }),
    file('/etc/mailrig/tls/privkey.pem', 'KEY', { service: 'mailrig', mode: '0600', secret: true }),
  ],
};

function factsMatching(d: DesiredState): Facts {
  return {
    os: { id: 'debian', versionId: '12', codename: 'bookworm', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    release: 'debian-12',
    init: 'sysv',
    packages: Object.fromEntries(d.packages.map((p) => [p, '1.0'])),
    files: Object.fromEntries(d.files.map((f) => [f.path, { sha256: sha256(f.content), mode: f.mode, owner: f.owner, group: f.group }])),
    services: Object.fromEntries(d.daemons.map((s, i) => [s, 100 + i])),
    users: ['vmail'],
    timers: [],
    managed: [],
    data: [],
  };
}

describe('plan', () => {
  it('is empty when the host matches', () => {
    const plan = makePlan(desired, factsMatching(desired));
    assert.ok(isEmpty(plan));
    assert.equal(formatPlan(plan, { before: new Map() }), 'No changes: the host matches mailrig.yaml.');
    assert.equal(summarize(plan), 'no changes');
  });

  it('on a fresh host installs, creates every file and starts every daemon', () => {
    const facts = { ...factsMatching(desired), packages: {}, files: {}, services: {} };
    const plan = makePlan(desired, facts);
    assert.deepEqual(plan.installs, ['postfix', 'dovecot-core']);
    assert.equal(plan.changes.length, 5);
    assert.ok(plan.changes.every((c) => c.kind === 'create'));
    assert.deepEqual(plan.mapBuilds.map((f) => f.path), ['/etc/postfix/virtual']);
    assert.deepEqual(plan.actions.map((a) => `${a.action} ${a.daemon}`), ['start postfix', 'start dovecot']);
  });

  it('a changed main.cf reloads Postfix only, naming the file', () => {
    const facts = factsMatching(desired);
    facts.files['/etc/postfix/main.cf'] = { ...facts.files['/etc/postfix/main.cf']!, sha256: 'old' };
    const plan = makePlan(desired, facts);
    assert.deepEqual(plan.actions, [{ daemon: 'postfix', action: 'reload', because: ['/etc/postfix/main.cf'] }]);
    const text = formatPlan(plan, { before: new Map([['/etc/postfix/main.cf', 'myhostname = old.example.com\n']]) });
    assert.match(text, /-myhostname = old\.example\.com\n\s+\+myhostname = mail\.example\.com/);
    assert.match(text, /reload\s+postfix\s+← \/etc\/postfix\/main\.cf/);
  });

  it('a changed master.cf restarts, a changed map is rebuilt without a reload', () => {
    const facts = factsMatching(desired);
    facts.files['/etc/postfix/master.cf']!.sha256 = 'old';
    facts.files['/etc/postfix/virtual']!.sha256 = 'old';
    const plan = makePlan(desired, facts);
    assert.deepEqual(plan.mapBuilds.map((f) => f.path), ['/etc/postfix/virtual']);
    assert.deepEqual(plan.actions, [{ daemon: 'postfix', action: 'restart', because: ['/etc/postfix/master.cf'] }]);
  });

  it('a new TLS key reloads every TLS consumer and its content is never shown', () => {
    const facts = factsMatching(desired);
    facts.files['/etc/mailrig/tls/privkey.pem']!.sha256 = 'old';
    facts.files['/etc/dovecot/users']!.sha256 = 'old';
    const plan = makePlan({ ...desired, daemons: [...desired.daemons, 'nginx'] }, { ...facts, services: { ...facts.services, nginx: 5 } });
    assert.deepEqual(plan.actions.map((a) => a.daemon), ['postfix', 'dovecot', 'nginx']);
    const text = formatPlan(plan, { before: new Map() });
    assert.doesNotMatch(text, /KEY|ARGON2ID/);
    assert.match(text, /secret: content not shown; it differs from the host/);
  });

  it('a mode change alone fixes the mode and touches no service', () => {
    const facts = factsMatching(desired);
    facts.files['/etc/dovecot/users']!.mode = '0644';
    const plan = makePlan(desired, facts);
    assert.equal(plan.changes[0]?.kind, 'attributes');
    assert.deepEqual(plan.actions, []);
    assert.match(formatPlan(plan, { before: new Map() }), /\/etc\/dovecot\/users: 0644 root:dovecot → 0640 root:dovecot/);
  });

  it('a stopped daemon is started even when none of its files changed', () => {
    const facts = factsMatching(desired);
    facts.services['dovecot'] = undefined;
    assert.deepEqual(makePlan(desired, facts).actions, [{ daemon: 'dovecot', action: 'start', because: [] }]);
  });

  it('stages whole top-most directories', () => {
    const plan = makePlan(desired, { ...factsMatching(desired), files: {} });
    assert.deepEqual(stagedDirs(plan.changes), ['/etc/dovecot', '/etc/mailrig/tls', '/etc/postfix']);
  });

  it('an optional daemon switched off but running is stopped and disabled, its files removed; once stopped, nothing is left to do', () => {
    const on = { ...desired, daemons: [...desired.daemons, 'radicale'], files: [...desired.files, file('/etc/radicale/config', '[server]\n', { service: 'radicale', onChange: 'restart' })] };
    const running = factsMatching(on);
    running.managed = on.files.map((f) => `${f.path}\t${f.service}\t${f.onChange}`);
    const plan = makePlan(desired, running);
    assert.deepEqual(plan.actions, [{ daemon: 'radicale', action: 'stop', because: ['/etc/radicale/config'] }]);
    assert.deepEqual(plan.removals.map((r) => r.path), ['/etc/radicale/config']);
    assert.match(formatPlan(plan, { before: new Map() }), /^ {2}stop {4}radicale/m);
    assert.match(summarize(plan), /stop radicale/);
    assert.match(serviceCommand('sysv', 'radicale', 'stop'), /^service radicale stop && update-rc\.d radicale disable /);
    assert.match(serviceCommand('systemd', 'radicale', 'start'), /^systemctl enable --now radicale /);
    const stopped = { ...factsMatching(desired), managed: [] };
    assert.ok(isEmpty(makePlan(desired, stopped)));
  });

  it('an optional daemon that is on is started like any other', () => {
    const on = { ...desired, daemons: [...desired.daemons, 'radicale'] };
    const facts = factsMatching(desired);
    assert.deepEqual(makePlan(on, facts).actions.map((a) => `${a.action} ${a.daemon}`), ['start radicale']);
  });
});
