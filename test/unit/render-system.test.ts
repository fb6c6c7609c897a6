// The host-wide settings mailrig renders: package upgrades keep the configuration files mailrig wrote
// instead of asking (which would stop an unattended upgrade).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { APT_CONFFILES, renderSystem } from '../../src/render/system.js';
import { render } from '../../src/services/index.js';
import { configFrom, fixtureKeys, TEST_HASH } from '../support/fixtures.js';

const config = configFrom({
  server: { hostname: 'mail.example.com', ipv4: '203.0.113.10', ssh: 'local', release: 'debian-12' },
  admin_email: 'admin@example.com',
  domains: { 'example.com': { mailboxes: { alice: { password_hash: TEST_HASH } } } },
});

describe('apt and changed configuration files', () => {
  it('dpkg keeps the changed file and takes the new version of an unchanged one, never asking', () => {
    const [file, ...rest] = renderSystem({ config, keys: fixtureKeys(['example.com']), release: 'debian-12' });
    assert.equal(rest.length, 0);
    assert.ok(file);
    assert.equal(file.path, '/etc/apt/apt.conf.d/90mailrig-conffiles');
    assert.deepEqual([file.mode, file.owner, file.group, file.onChange, file.secret], ['0644', 'root', 'root', 'none', false]);
    const settings = file.content.split('\n').filter((l) => l && !l.startsWith('//'));
    assert.deepEqual(settings, ['Dpkg::Options {', '  "--force-confdef";', '  "--force-confold";', '};']);
  });

  it('is part of every rendered tree', () => {
    assert.ok(render({ config, keys: fixtureKeys(['example.com']), release: 'debian-13' }).some((f) => f.path === APT_CONFFILES));
  });
});
