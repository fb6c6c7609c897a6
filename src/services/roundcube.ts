// Roundcube webmail (webmail: roundcube), run by PHP-FPM behind nginx. Optional: when mailrig.yaml
// leaves it out, none of its packages are installed and no process runs; switched off again, its
// files go (the packages and the database stay, as for any package mailrig no longer needs; apply
// --purge deletes the database while the webmail is off).
import { phpVersion, renderRoundcube, ROUNDCUBE_DATABASE_DIR } from '../render/roundcube.js';
import type { ServiceDescriptor } from './types.js';

export const roundcube: ServiceDescriptor = {
  name: 'roundcube',
  // The primary only: its stored data (calendars, webmail settings) is not replicated to a standby.
  roles: ['primary'],
  enabled: (config) => config.webmail === 'roundcube',
  // php-fpm named with the others: PHP's package would otherwise pull in Apache (libapache2-mod-php)
  // to satisfy its "some PHP server" dependency. roundcube-plugins holds managesieve.
  packages: (config, host) =>
    config.webmail === 'roundcube' ? [`php${phpVersion(host.release)}-fpm`, 'roundcube-core', 'roundcube-sqlite3', 'roundcube-plugins'] : [],
  render: renderRoundcube,
  daemon: {
    unit: (release) => `php${phpVersion(release)}-fpm`,
    mainProcess: 'php-fpm[0-9.]+',
    // The binary carries the release's PHP version: the one installed.
    validate: 'for fpm in /usr/sbin/php-fpm[0-9]*; do "$fpm" -t >/dev/null 2>&1 || { "$fpm" -t; exit 1; }; done',
    // A Unix socket for nginx only: no TCP port.
    ports: () => [],
    consumesTls: false,
  },
  data: [{ path: ROUNDCUBE_DATABASE_DIR, what: "Roundcube's database (users' settings, contacts, identities)" }],
};
