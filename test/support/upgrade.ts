// What upgrade.test.ts keeps between runs of `mailrig upgrade --to debian-13`: the upgrade's
// downloaded packages, in a cache beside the images' (seeded into the host's apt archives before the
// upgrade, published back after it).
//
//   seedUpgradeDebs(host);    // before the upgrade: what earlier runs downloaded
//   ...
//   publishUpgradeDebs(host); // before host.stop(): what this run downloaded, for the next one
import { execFileSync } from 'node:child_process';
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
