// mailrig relay password|list: a relay's password goes into the key store (never into mailrig.yaml,
// never printed); the routes show how each domain's outbound mail leaves.
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { relays } from '../config/model.js';
import { toAsciiDomain } from '../config/syntax.js';
import { UsageError } from '../errors.js';
import { assertSafe, keyDirFor } from '../keys/store.js';
import { relayPasswordPath, saveRelayPassword } from '../keys/relay.js';
import { routingLines, showRelay } from '../render/relay.js';
import { defaultIo, newPassword, type AccountsIo } from './user.js';

export interface RelayPasswordOptions {
  config: string;
  passwordStdin?: boolean;
}

export async function runRelayPassword(host: string, opts: RelayPasswordOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const { config } = loadConfig(path);
  const name = (toAsciiDomain(host) ?? host).toLowerCase();
  const matching = relays(config).filter((r) => r.host === name);
  if (matching.length === 0) {
    const known = relays(config).map((r) => r.host);
    throw new UsageError(`HOST ${host}: not a relay in ${opts.config} (${known.length ? `relays: ${[...new Set(known)].join(', ')}` : 'it has no relay section'})`);
  }
  if (!matching.some((r) => r.username !== undefined)) {
    throw new UsageError(`HOST ${host}: its relay entries in ${opts.config} have no username; a relay without a login needs no password`);
  }
  const dir = keyDirFor(path);
  assertSafe(dir);
  // The relay's provider chose the password: no strength rule applies.
  const password = await newPassword({ passwordStdin: opts.passwordStdin === true, allowWeak: true }, io, `relay ${name}`);
  if (/[\r\n]/.test(password)) throw new UsageError('--password-stdin: the password must be one line');
  const changed = saveRelayPassword(dir, name, password);
  io.out(
    changed
      ? `Stored the password for relay ${name} in ${relayPasswordPath(dir, name)}; mailrig apply puts it on the server.\n`
      : `Relay ${name} already has that password; nothing changed.\n`,
  );
  return 0;
}

export interface RelayListOptions {
  config: string;
  json?: boolean;
}

export async function runRelayList(opts: RelayListOptions, io: Pick<AccountsIo, 'out'> = defaultIo()): Promise<number> {
  const { config } = loadConfig(resolve(opts.config));
  if (opts.json) {
    io.out(`${JSON.stringify({ relays: relays(config).map((r) => ({ host: r.host, port: r.port, username: r.username ?? null })), routes: routingLines(config) }, null, 2)}\n`);
    return 0;
  }
  const list = relays(config);
  io.out(list.length ? `Relays:\n${list.map((r) => `  ${showRelay(r)}`).join('\n')}\n` : 'No relays: mail leaves directly for the recipients\' MX hosts.\n');
  io.out(`Routes:\n${routingLines(config).map((l) => `  ${l}`).join('\n')}\n`);
  return 0;
}
