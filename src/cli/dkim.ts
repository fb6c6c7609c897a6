// mailrig dkim rotate start|switch|finish|status [DOMAIN]: a staged DKIM key rotation (see
// keys/rotation.ts). switch is gated on DNS: the new selectors must be visible first, or mail signed
// with them would fail DKIM at every receiver.
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/model.js';
import { toAsciiDomain, toUnicodeDomain } from '../config/syntax.js';
import { checkRecords, formatFindings } from '../dns/check.js';
import { buildRecords } from '../dns/records.js';
import { defaultResolver, type DnsResolver } from '../dns/resolver.js';
import { formatTable } from '../dns/table.js';
import type { DnsRecord } from '../dns/types.js';
import { parseServer } from '../dns/wire.js';
import { RuntimeError, UsageError } from '../errors.js';
import { DEFAULT_GRACE_DAYS, describePhase, finishRotation, phaseOf, startRotation, switchRotation } from '../keys/rotation.js';
import {
  generateSelectorKeys,
  keyDirFor,
  loadKeys,
  publicKeys,
  readKeysFile,
  saveSelectors,
  type StoredSelector,
} from '../keys/store.js';
import { defaultIo, type AccountsIo } from './user.js';

export const ACTIONS = ['start', 'switch', 'finish', 'status'] as const;
export type RotateAction = (typeof ACTIONS)[number];

export interface RotateOptions {
  config: string;
  force?: boolean;
  /** switch: ask this resolver (IP[:port]) instead of the system's. */
  resolver?: string;
  /** switch: days the old keys stay published. */
  grace?: string;
  json?: boolean;
}

export interface DkimIo extends AccountsIo {
  /** Replaces the resolver switch would use. */
  resolver?: DnsResolver;
}

function domainOf(config: Config, domain: string | undefined, action: string): string {
  if (domain === undefined) throw new UsageError(`dkim rotate ${action} needs a DOMAIN`);
  const ascii = toAsciiDomain(domain);
  if (ascii === undefined || !config.domains.some((d) => d.name === ascii)) {
    throw new UsageError(`${domain}: not a mail domain of this server (${config.domains.map((d) => d.unicode).join(', ')})`);
  }
  return ascii;
}

/** The DKIM TXT records of these selectors, as mailrig dns prints them. */
function selectorRecords(config: Config, keyDir: string, domain: string, selectors: StoredSelector[]): DnsRecord[] {
  const names = new Set(selectors.map((s) => `${s.selector}._domainkey.${domain}`));
  return buildRecords(config, publicKeys(loadKeys(keyDir, config.domains.map((d) => d.name)))).filter((r) => names.has(r.name));
}

export async function runRotate(action: string, domain: string | undefined, opts: RotateOptions, io: DkimIo = defaultIo()): Promise<number> {
  if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`dkim rotate ${action}: use one of ${ACTIONS.join(', ')}`);
  const path = resolve(opts.config);
  const { config } = loadConfig(path);
  const keyDir = keyDirFor(path);
  if (action === 'status') return status(config, keyDir, domain, opts, io);
  const ascii = domainOf(config, domain, action);
  const shown = toUnicodeDomain(ascii);
  const index = readKeysFile(keyDir);
  const selectors = index.dkim[ascii] ?? [];
  const now = io.now();
  const save = (next: StoredSelector[]) => saveSelectors(keyDir, ascii, next);

  if (action === 'start') {
    const { selectors: next, added } = startRotation(ascii, selectors, now);
    generateSelectorKeys(keyDir, ascii, added);
    save(next);
    io.out(`Started a DKIM key rotation for ${shown}: new selectors ${added.map((s) => s.selector).join(' and ')}, not signing yet.\n`);
    io.out(`\nPublish these records (mailrig dns shows them from now on):\n\n${formatTable(selectorRecords(config, keyDir, ascii, added))}`);
    io.out(`Then: mailrig dkim rotate switch ${shown} (it checks that DNS shows them first).\n`);
    return 0;
  }
  if (action === 'switch') {
    const grace = opts.grace === undefined ? DEFAULT_GRACE_DAYS : Number(opts.grace);
    if (!Number.isFinite(grace) || grace < 0) throw new UsageError(`--grace ${opts.grace}: a number of days`);
    const next = switchRotation(ascii, selectors, now, grace); // refuses early when nothing waits
    await requirePublished(config, keyDir, ascii, selectors.filter((s) => s.state === 'next'), opts, io);
    save(next);
    const until = next.find((s) => s.state === 'retiring')?.retireAfter ?? now.toISOString();
    io.out(
      `Switched ${shown} to ${next.filter((s) => s.state === 'active').map((s) => s.selector).join(' and ')}: mailrig apply makes the server sign with them.\n` +
        `The old keys stay published until ${until.slice(0, 10)}, so mail signed with them still verifies; then: mailrig dkim rotate finish ${shown}.\n`,
    );
    return 0;
  }
  const next = finishRotation(ascii, selectors, now, opts.force === true);
  const retired = selectors.filter((s) => s.state === 'retiring');
  save(next);
  io.out(`Finished the rotation for ${shown}: ${retired.map((s) => s.selector).join(' and ')} retired (their key files stay in .mailrig/).\n`);
  io.out('mailrig dns no longer lists them; delete these TXT records where your zone is kept:\n');
  for (const s of retired) io.out(`  ${s.selector}._domainkey.${ascii}\n`);
  return 0;
}

async function requirePublished(config: Config, keyDir: string, domain: string, fresh: StoredSelector[], opts: RotateOptions, io: DkimIo): Promise<void> {
  if (opts.resolver !== undefined && parseServer(opts.resolver) === undefined) {
    throw new UsageError(`--resolver ${opts.resolver}: expected IP or IP:port (IPv6 as [addr]:port)`);
  }
  const resolver = io.resolver ?? defaultResolver(opts.resolver);
  const findings = await checkRecords(selectorRecords(config, keyDir, domain, fresh), resolver);
  if (findings.every((f) => f.status === 'ok')) return;
  const report = formatFindings(findings, resolver.description);
  if (!opts.force) {
    throw new RuntimeError(
      `the new DKIM records of ${toUnicodeDomain(domain)} are not published yet; nothing switched (publish them and retry, or --force)`,
      report.trimEnd(),
    );
  }
  io.out(`${report}--force: switching although DNS does not show the new records; mail signed with them fails DKIM until it does.\n`);
}

function status(config: Config, keyDir: string, domain: string | undefined, opts: RotateOptions, io: DkimIo): number {
  const domains = domain === undefined ? config.domains.map((d) => d.name) : [domainOf(config, domain, 'status')];
  const index = readKeysFile(keyDir);
  const rows = domains.map((d) => {
    const selectors = index.dkim[d] ?? [];
    return { domain: d, unicode: toUnicodeDomain(d), phase: phaseOf(selectors), selectors };
  });
  if (opts.json) {
    io.out(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  const now = io.now().getTime();
  for (const r of rows) {
    io.out(`${r.unicode}: ${describePhase(r.phase)}\n`);
    for (const s of r.selectors.filter((x) => x.state !== 'retired')) {
      const since = s.since ? ` since ${s.since.slice(0, 10)}` : '';
      const until = s.retireAfter ? `, published until ${s.retireAfter.slice(0, 10)}` : '';
      io.out(`${`  ${s.state.padEnd(9)} ${s.selector.padEnd(14)} ${s.algorithm.padEnd(8)}${since}${until}`.trimEnd()}\n`);
    }
    const retired = r.selectors.filter((x) => x.state === 'retired').length;
    if (retired) io.out(`  (${retired} retired key${retired === 1 ? '' : 's'} kept in .mailrig/)\n`);
    const due = r.selectors.find((s) => s.retireAfter)?.retireAfter;
    const next = {
      idle: `mailrig dkim rotate start ${r.unicode} begins one`,
      published: `mailrig dkim rotate switch ${r.unicode} once mailrig dns --check shows the new records`,
      switched: due && Date.parse(due) > now ? `mailrig dkim rotate finish ${r.unicode} after ${due.slice(0, 10)}` : `mailrig dkim rotate finish ${r.unicode}`,
    }[r.phase];
    io.out(`  next: ${next}\n`);
  }
  return 0;
}
