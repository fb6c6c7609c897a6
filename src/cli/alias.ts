// mailrig alias add|rm|list: standalone aliases in mailrig.yaml (and, for rm, aliases a mailbox owns).
import { resolve } from 'node:path';
import { addAlias, parseAddress, removeAlias, saveEdit } from '../config/edit.js';
import { loadConfig, readConfigFile } from '../config/load.js';
import { displayAddress } from '../config/syntax.js';
import { formatColumns } from './table.js';
import { applyIfAsked, defaultIo, type AccountsIo, type CommonOptions, type ListOptions } from './user.js';

export async function runAliasAdd(address: string, targets: string[], opts: CommonOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const text = readConfigFile(path);
  loadConfig(path);
  const { text: edited, added } = addAlias(text, address, targets);
  const shown = displayAddress(address);
  if (added.length === 0) {
    io.out(`${shown} already delivers to ${targets.map(displayAddress).join(', ')}; nothing changed.\n`);
    return 0;
  }
  const { config } = saveEdit(path, edited);
  const { local, domain } = parseAddress(address);
  const alias = config.domains.flatMap((d) => d.aliases).find((a) => a.address === `${local}@${domain}`);
  io.out(`${shown} now delivers to ${(alias?.targets ?? targets).map(displayAddress).join(', ')} (${opts.config}).\n`);
  return applyIfAsked(opts, io);
}

export async function runAliasRm(address: string, opts: CommonOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const path = resolve(opts.config);
  const text = readConfigFile(path);
  loadConfig(path);
  const { text: edited, owner } = removeAlias(text, address);
  saveEdit(path, edited);
  io.out(`Removed the alias ${displayAddress(address)}${owner ? ` of the mailbox ${owner}` : ''} from ${opts.config}.\n`);
  return applyIfAsked(opts, io);
}

export interface AliasRow {
  address: string;
  unicode: string;
  targets: string[];
  /** alias: standalone; mailbox: owned by a mailbox (it may also send as it); catch-all: @domain. */
  kind: 'alias' | 'mailbox' | 'catch-all';
}

export async function runAliasList(opts: ListOptions, io: AccountsIo = defaultIo()): Promise<number> {
  const { config } = loadConfig(resolve(opts.config));
  const rows: AliasRow[] = config.domains.flatMap((d) => {
    const owned = new Set(d.mailboxes.flatMap((m) => m.aliases));
    const aliases = d.aliases.map(
      (a): AliasRow => ({ address: a.address, unicode: displayAddress(a.address), targets: a.targets, kind: owned.has(a.address) ? 'mailbox' : 'alias' }),
    );
    const catchAll: AliasRow[] = d.catchAll.length ? [{ address: `@${d.name}`, unicode: `@${d.unicode}`, targets: d.catchAll, kind: 'catch-all' }] : [];
    return [...aliases, ...catchAll];
  });
  if (opts.json) {
    io.out(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.out('No aliases.\n');
    return 0;
  }
  const kind = { alias: '', mailbox: "mailbox's own (may send as it)", 'catch-all': 'catch-all' } as const;
  io.out(formatColumns(['ALIAS', 'DELIVERS TO', 'NOTES'], rows.map((r) => [r.unicode, r.targets.map(displayAddress).join(', '), kind[r.kind]])));
  return 0;
}
