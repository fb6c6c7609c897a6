// One run of the on-host agent with its world injected: nothing due → nothing touched; due → the new
// certificate installed and the services reloaded once; the CA failing → the working certificate stays.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAgentConfig, type AgentConfig } from '../../src/agent/config.js';
import { runAgent, type AgentDeps } from '../../src/agent/run.js';
import { httpResponder } from '../../src/tls/challenges.js';
import { fixtureKeyDir } from '../support/fixtures.js';
import { caIssued } from '../support/testcerts.js';

const KEY = readFileSync(join(fixtureKeyDir(), 'tls/current.key'), 'utf8');
const NAMES = ['mail.example.com', 'mta-sts.example.com'];
const T0 = new Date('2026-03-01T00:00:00Z');
const day = (n: number) => new Date(T0.getTime() + n * 86_400_000);

const CFG: AgentConfig = parseAgentConfig(
  JSON.stringify({
    version: 1, directoryUrl: 'https://ca.example/dir', email: 'admin@example.com', names: NAMES, limit: 100,
    keyFile: '/k.pem', certFile: '/c.pem', accountKeyFile: '/a.key', webroot: '/w', init: 'sysv',
    reload: ['postfix', 'dovecot', 'nginx'], logFile: '/log',
  }),
);

function world(cert: string | undefined, now: Date, issue: AgentDeps['issue']) {
  const files = new Map<string, string>([['/k.pem', KEY]]);
  if (cert) files.set('/c.pem', cert);
  const reloads: string[][] = [];
  const log: string[] = [];
  const deps: AgentDeps = {
    readFile: (p) => files.get(p),
    writeFile: (p, c) => void files.set(p, c),
    now: () => now,
    issue,
    responder: httpResponder('/w', { write: async () => undefined, remove: async () => undefined }),
    reload: async (units) => {
      reloads.push(units);
      return [];
    },
    log: (l) => void log.push(l),
  };
  return { files, reloads, log, deps };
}

describe('agent run', () => {
  it('does nothing while two thirds of the lifetime are left', async () => {
    const cert = await caIssued(KEY, NAMES, T0, day(90));
    const w = world(cert, day(10), async () => assert.fail('must not issue'));
    assert.equal((await runAgent(CFG, w.deps)).result, 'kept');
    assert.equal(w.reloads.length, 0);
    assert.match(w.log.join('\n'), /no renewal needed/);
  });

  it('renews when due: installs the chain, keeps the previous one, reloads the TLS services once', async () => {
    const old = await caIssued(KEY, NAMES, T0, day(90), '01');
    const fresh = await caIssued(KEY, NAMES, day(60), day(150), '02');
    const w = world(old, day(61), async () => ({ certificates: [{ names: NAMES, pem: fresh }], failed: [] }));
    const outcome = await runAgent(CFG, w.deps);
    assert.equal(outcome.result, 'renewed', w.log.join('\n'));
    assert.equal(w.files.get('/c.pem'), fresh);
    assert.equal(w.files.get('/c.pem.previous'), old);
    assert.deepEqual(w.reloads, [['postfix', 'dovecot', 'nginx']]);
  });

  it('keeps the working certificate when the CA fails, and says so in the log', async () => {
    const old = await caIssued(KEY, NAMES, T0, day(90));
    const w = world(old, day(70), async () => {
      throw new Error('connect ECONNREFUSED 10.0.0.1:14000');
    });
    const outcome = await runAgent(CFG, w.deps);
    assert.equal(outcome.result, 'failed');
    assert.equal(w.files.get('/c.pem'), old);
    assert.equal(w.reloads.length, 0);
    assert.match(w.log.join('\n'), /FAILED: the CA could not be used: connect ECONNREFUSED.*the working certificate stays/);
  });

  it('logs names that failed validation and installs the certificate for the rest', async () => {
    const partial = await caIssued(KEY, NAMES.slice(0, 1), T0, day(90));
    const w = world(undefined, T0, async () => ({ certificates: [{ names: NAMES.slice(0, 1), pem: partial }], failed: [{ name: 'mta-sts.example.com', reason: 'NXDOMAIN' }] }));
    assert.equal((await runAgent(CFG, w.deps)).result, 'renewed');
    assert.match(w.log.join('\n'), /left out: mta-sts\.example\.com \(NXDOMAIN\)/);
  });

  it('refuses a certificate for another key', async () => {
    const other = readFileSync(join(fixtureKeyDir(), 'tls/next.key'), 'utf8');
    const wrong = await caIssued(other, NAMES, T0, day(90));
    const w = world(undefined, T0, async () => ({ certificates: [{ names: NAMES, pem: wrong }], failed: [] }));
    assert.equal((await runAgent(CFG, w.deps)).result, 'failed');
    assert.equal(w.files.get('/c.pem'), undefined);
  });

  it('rejects a damaged agent.json naming the field', () => {
    assert.throws(() => parseAgentConfig('{"version":1}', '/etc/mailrig/agent.json'), /agent\.json: directoryUrl is missing/);
  });
});
