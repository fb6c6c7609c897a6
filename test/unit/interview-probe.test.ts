// What setup learns from a reachable server, and how it becomes the interview's defaults.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProbe } from '../../src/interview/probe.js';
import { answersFromFlags } from '../../src/interview/runner.js';

// Recorded from a Debian 13 VPS-like host (addresses replaced by documentation ranges).
const TRIXIE = `PRETTY_NAME="Debian GNU/Linux 13 (trixie)"
NAME="Debian GNU/Linux"
VERSION_ID="13"
VERSION_CODENAME=trixie
ID=debian
### hostname
mail.example.com
### addresses
2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever
3: eth1    inet 203.0.113.10/24 brd 203.0.113.255 scope global eth1\\       valid_lft forever preferred_lft forever
3: eth1    inet6 2001:db8::10/64 scope global \\       valid_lft forever preferred_lft forever
`;

describe('probing the server', () => {
  it('finds its release, name and public addresses', () => {
    assert.deepEqual(parseProbe(TRIXIE), { release: 'debian-13', hostname: 'mail.example.com', ipv4: '203.0.113.10', ipv6: '2001:db8::10' });
  });

  it('guesses no address behind NAT and no name that is not a FQDN', () => {
    const g = parseProbe('ID=debian\nVERSION_ID="12"\n### hostname\nvps123\n### addresses\n2: eth0 inet 192.168.1.4/24 scope global eth0\n');
    assert.deepEqual(g, { release: 'debian-12' });
  });

  it('turns the findings into defaults that flags still override', () => {
    const base = { domains: ['example.com'], mailbox: 'alice@example.com', password: 'a-long-enough-password' };
    const probed = parseProbe(TRIXIE);
    const a = answersFromFlags(base, probed);
    assert.equal(a.release, 'debian-13');
    assert.equal(a.ipv4, '203.0.113.10');
    assert.equal(a.ipv6, '2001:db8::10');
    assert.equal(answersFromFlags({ ...base, release: 'debian-12' }, probed).release, 'debian-12');
  });

  it("keeps the mail name when the host's own name is a provider's", () => {
    const a = answersFromFlags(
      { domains: ['example.com'], mailbox: 'alice@example.com', password: 'a-long-enough-password', ipv4: '203.0.113.10' },
      { hostname: 'vps123.hoster.example' },
    );
    assert.equal(a.hostname, 'mail.example.com');
  });
});
