// Shared test fixtures: a committed key store (test-only keys, never used anywhere else) and a way to
// build a normalized Config from a plain object, the way mailrig.yaml would be loaded.
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalize, type Config } from '../../src/config/model.js';
import { configSchema, type RawConfigInput } from '../../src/config/schema.js';
import { loadKeys, type KeyMaterial } from '../../src/keys/store.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = join(PROJECT_ROOT, 'test/fixtures');

// Every copy is removed when the test process exits.
const copies: string[] = [];
process.on('exit', () => {
  for (const dir of copies) rmSync(dir, { recursive: true, force: true });
});

/** A private copy of the fixture key store, with the modes git does not keep (0700 dirs, 0600 keys). */
export function fixtureKeyDir(): string {
  const parent = mkdtempSync(join(tmpdir(), 'mailrig-keys-'));
  copies.push(parent);
  const dir = join(parent, '.mailrig');
  cpSync(join(FIXTURES, 'keystore'), dir, { recursive: true });
  const fix = (p: string) => {
    const isDir = statSync(p).isDirectory();
    chmodSync(p, isDir ? 0o700 : 0o600);
    if (isDir) for (const e of readdirSync(p)) fix(join(p, e));
  };
  fix(dir);
  chmodSync(join(dir, 'tls/selfsigned.crt'), 0o644);
  return dir;
}

/** Fixture keys for the given ASCII domains (example.com, example.net, example.org, xn--bcher-kva.example). */
export function fixtureKeys(domains: string[]): KeyMaterial {
  return loadKeys(fixtureKeyDir(), domains);
}

/** A Config from a plain object, through the same schema as mailrig.yaml (rules not applied). */
export function configFrom(input: RawConfigInput): Config {
  return normalize(configSchema.parse(input));
}

/** The hash of TEST_PASSWORD, made by mailrig's own hashPassword. */
export const TEST_PASSWORD = 'Test-password-2026';
export const TEST_HASH =
  '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$iXENGuDa5MYlF6HzsLcgww$5T5rYrudpcUoC7eMHfE0ZvfJbAevtFTcWDd0eyUPphM';

/** The smallest realistic config: one domain, one mailbox. */
export function oneDomainConfig(overrides: Partial<RawConfigInput> = {}): Config {
  return configFrom({
    server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'root@203.0.113.10', release: 'debian-12' },
    admin_email: 'admin@example.com',
    domains: {
      'example.com': {
        mailboxes: { alice: { password_hash: TEST_HASH, quota: '2G', aliases: ['a.smith'] } },
        aliases: { postmaster: 'alice', abuse: 'alice' },
      },
    },
    ...overrides,
  });
}
