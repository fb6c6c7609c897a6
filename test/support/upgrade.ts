// What the e2e tests that run `mailrig upgrade --to debian-13` share: the upgrade's downloaded
// packages, kept between runs in a cache beside the images' (seeded into the host's apt archives
// before the upgrade, published back after it), and an upgraded host to test on.
//
//   const { host, ws, ca } = await startUpgradedHost({ name: 'security-upgraded' });
//   // a host from the bookworm provisioned image, upgraded in place: Debian 13, release: debian-13
//   ...
//   publishUpgradeDebs(host); // before host.stop(): what this run downloaded, for the next one
import { execFileSync } from 'node:child_process';
import { show } from './e2e.js';
import { startProvisionedHost, type ProvisionedHost } from './provisioned.js';
import type { TestHost } from './testhost.js';

const CACHE = process.env.MAILRIG_TEST_CACHE ?? '/var/cache/mailrig-test';
/** The upgrade's downloaded packages, kept between runs (the images' .deb caches stay as they are). */
const DEBS = `${CACHE}/debs/upgrade-trixie`;
const ARCHIVES = '/var/cache/apt/archives';

/** The upgrade's packages from earlier runs into the host's apt archives, under the cache's lock. */
export function seedUpgradeDebs(host: TestHost): void {
  const root = `/proc/${host.pid1}/root`;
  execFileSync('bash', ['-c', `mkdir -p ${DEBS} && exec 7>${DEBS}/.mailrig-build.lock && flock 7 && find ${DEBS} -maxdepth 1 -name '*.deb' -exec cp -t ${root}${ARCHIVES} {} +; true`]);
}

/** What this run downloaded, back into the cache: each new file by a rename, under the cache's lock. */
export function publishUpgradeDebs(host: TestHost): void {
  if (!host.pid1) return; // stopped: its disk is gone
  const root = `/proc/${host.pid1}/root`;
  execFileSync('bash', [
    '-c',
    `exec 7>${DEBS}/.mailrig-build.lock && flock 7 && for f in ${root}${ARCHIVES}/*.deb; do [ -f "$f" ] || continue; n=$(basename "$f"); [ -e ${DEBS}/"$n" ] && continue; cp "$f" ${DEBS}/."$n".tmp && mv -f ${DEBS}/."$n".tmp ${DEBS}/"$n"; done; true`,
  ]);
}

/**
 * A host from the bookworm provisioned image, upgraded in place by `mailrig upgrade --to debian-13
 * --yes` (the cached packages seeded first): it runs Debian 13 and the test's mailrig.yaml says
 * release: debian-13. The caller publishes the packages (publishUpgradeDebs) before it stops the host.
 */
export async function startUpgradedHost(opts: { name: string }): Promise<ProvisionedHost> {
  const started = await startProvisionedHost({ release: 'bookworm', name: opts.name });
  const { host, ws } = started;
  try {
    seedUpgradeDebs(host);
    const upgrade = await ws.mailrig(['upgrade', '--to', 'debian-13', '--yes']);
    if (upgrade.code !== 0) throw new Error(`mailrig upgrade --to debian-13 failed:\n${show(upgrade)}`);
    const version = (await host.exec('cat /etc/debian_version')).stdout;
    if (!version.startsWith('13.')) throw new Error(`after the upgrade the host runs Debian ${version.trim()}, not 13`);
    return started;
  } catch (err) {
    publishUpgradeDebs(host);
    await host.stop();
    throw err;
  }
}
