// The attack suite (test/support/attack-suite.ts; docs/SECURITY.md lists what it proves) on each
// release's provisioned host: Debian 12 and 13 by default, as Dovecot 2.4 logs and throttles
// differently, which is what fail2ban and bursts depend on. The host starts from the release's
// provisioned image (what setup leaves behind, SSH included, is provision.test.ts's proof); the suite
// gives it the test's security settings by `mailrig apply`. About 4 minutes per release;
// MAILRIG_E2E_RELEASES=bookworm picks one. The suite's run on a Debian 12 host upgraded to 13 is in
// upgrade.test.ts, after that test's own proof of the upgrade, so the upgrade runs once.
import { after, before, describe } from 'node:test';
import { describeAttacks } from '../support/attack-suite.js';
import { CONFIG_RELEASE, releasesUnderTest, startProvisionedHost, type ProvisionedHost } from '../support/provisioned.js';
import { cleanupStaleTestHosts } from '../support/testhost.js';

for (const release of releasesUnderTest()) {
  describe(`a provisioned ${CONFIG_RELEASE[release]} host`, { timeout: 30 * 60_000 }, () => {
    let started: ProvisionedHost | undefined;
    before(async () => {
      await cleanupStaleTestHosts();
      started = await startProvisionedHost({ release, name: `security-${release}` });
    });
    after(async () => {
      await started?.host.stop();
    });

    describeAttacks(`attacks on a provisioned ${CONFIG_RELEASE[release]} host`, () => {
      if (!started) throw new Error(`the provisioned ${CONFIG_RELEASE[release]} host did not start`);
      return started;
    });
  });
}
