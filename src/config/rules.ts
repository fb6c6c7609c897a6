// Rules that look across fields of mailrig.yaml — what one field's type cannot say. Each rule adds
// problems with the dotted path where the operator must look; all of them run, every time.
import { isZoneName, type RawConfig } from './schema.js';
import { displayAddress as show, isDomainName, isEmailAddress, isLocalPart, isMailboxName, isPolicyDestination, serverAddressProblem, toAsciiDomain } from './syntax.js';
import { blocklistSymbol, policyDestination, resolveTarget } from './model.js';

export interface RuleProblem {
  path: Array<string | number>;
  message: string;
}

function asList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/**
 * Runs on schema-valid input, and also — defensively — on input the schema rejected, so that one
 * load reports type errors and cross-field problems together.
 */
export function checkRules(input: RawConfig): RuleProblem[] {
  const raw = lenient(input);
  const problems: RuleProblem[] = [];
  const add = (path: Array<string | number>, message: string) => problems.push({ path, message });

  // Domain names, and the same domain written twice (e.g. in Unicode and in punycode).
  const asciiOf = new Map<string, string>();
  for (const key of Object.keys(raw.domains)) {
    const ascii = toAsciiDomain(key);
    if (ascii === undefined || !isDomainName(key)) {
      add(['domains', key], `"${key}" is not a valid domain name`);
      continue;
    }
    const seen = asciiOf.get(ascii);
    if (seen !== undefined) add(['domains', key], `is the same domain as "${seen}"`);
    else asciiOf.set(ascii, key);
  }

  // Every address mailrig delivers for, with where it was defined, to find duplicates.
  const owners = new Map<string, string>();
  const claim = (address: string, path: Array<string | number>, what: string) => {
    const where = path.join('.');
    const prior = owners.get(address);
    if (prior !== undefined) add(path, `${show(address)} is defined twice: as ${what} here and already at ${prior}`);
    else owners.set(address, where);
  };
  const mailboxes = new Set<string>();
  const sendOnly = new Set<string>();
  // Standalone aliases → their managed targets, to find loops; where each was defined.
  const aliasEdges = new Map<string, { path: Array<string | number>; targets: string[] }>();

  for (const [key, domain] of Object.entries(raw.domains)) {
    const ascii = toAsciiDomain(key);
    if (ascii === undefined) continue;
    for (const [local, mailbox] of Object.entries(domain.mailboxes)) {
      const path = ['domains', key, 'mailboxes', local];
      if (!isMailboxName(local)) {
        add(path, `"${local}" is not a valid mailbox name (letters, digits, _ and -, with single dots between them: it names a directory on the server; "+" is for plus-addressing)`);
        continue;
      }
      const address = `${local.toLowerCase()}@${ascii}`;
      claim(address, path, 'a mailbox');
      mailboxes.add(address);
      if (mailbox.send_only) sendOnly.add(address);
      mailbox.aliases.forEach((alias, i) => {
        const aliasPath = [...path, 'aliases', i];
        if (!checkAliasName(alias, aliasPath, add)) return;
        const full = resolveTarget(alias, ascii);
        if (!isManaged(full, asciiOf)) {
          add(aliasPath, `${show(full)} is not in a domain of this server; a mailbox can only own addresses of managed domains`);
          return;
        }
        claim(full, aliasPath, `an alias of ${show(address)}`);
      });
    }
    for (const local of Object.keys(domain.aliases)) {
      const path = ['domains', key, 'aliases', local];
      if (!checkAliasName(local, path, add)) continue;
      claim(resolveTarget(local, ascii), path, 'an alias');
    }
  }

  // Targets: a managed address must exist (mailbox or alias, and able to receive); others are external.
  for (const [key, domain] of Object.entries(raw.domains)) {
    const ascii = toAsciiDomain(key);
    if (ascii === undefined) continue;
    const checkTarget = (target: string, path: Array<string | number>) => {
      if (!target.includes('@') && !isLocalPart(target)) {
        add(path, `"${target}" is neither a mailbox of ${key} nor an email address`);
        return;
      }
      if (target.includes('@') && !isEmailAddress(target)) {
        add(path, `"${target}" is not an email address`);
        return;
      }
      const full = resolveTarget(target, ascii);
      if (!isManaged(full, asciiOf)) return; // external: forwarded as is
      if (sendOnly.has(full)) add(path, `${show(full)} is send-only and receives no mail`);
      else if (!owners.has(full)) add(path, `${show(full)} is neither a mailbox nor an alias of this server${hint(full, mailboxes)}`);
    };
    for (const [local, targets] of Object.entries(domain.aliases)) {
      asList(targets).forEach((t, i) =>
        checkTarget(t, Array.isArray(targets) ? ['domains', key, 'aliases', local, i] : ['domains', key, 'aliases', local]),
      );
      if (!isLocalPart(local) && !isEmailAddress(local)) continue;
      const managed = asList(targets)
        .filter((t) => (t.includes('@') ? isEmailAddress(t) : isLocalPart(t)))
        .map((t) => resolveTarget(t, ascii))
        .filter((t) => isManaged(t, asciiOf));
      aliasEdges.set(resolveTarget(local, ascii), { path: ['domains', key, 'aliases', local], targets: managed });
    }
    const catchAll = domain.catch_all;
    asList(catchAll).forEach((t, i) =>
      checkTarget(t, Array.isArray(catchAll) ? ['domains', key, 'catch_all', i] : ['domains', key, 'catch_all']),
    );
  }

  for (const problem of aliasLoops(aliasEdges)) add(problem.path, problem.message);

  const lab = raw.server.allow_private_addresses === true;
  for (const field of ['ipv4', 'ipv6'] as const) {
    const value = raw.server[field];
    const problem = typeof value === 'string' ? serverAddressProblem(value, lab) : undefined;
    if (problem) add(['server', field], `${value} ${problem}`);
  }
  checkServers(raw.server, raw.servers, lab, add);

  if (raw.dns.provider === 'rfc2136') {
    for (const field of ['server', 'key_name', 'key_file'] as const) {
      if (!raw.dns[field]) add(['dns', field], 'is required when dns.provider is rfc2136');
    }
  }
  checkRelays(raw.relay, asciiOf, add);
  checkTlsPolicy(raw.tlsPolicy, asciiOf, add);
  if (Array.isArray(raw.resolver.forwarders)) {
    raw.resolver.forwarders.forEach((f, i) => {
      if (typeof f === 'string' && /^(127\.0\.0\.1|::1)(@53)?$/.test(f)) {
        add(['resolver', 'forwarders', i], `${f} is where unbound itself answers: it would forward to itself (a resolver on this host needs another port, e.g. 127.0.0.1@5353)`);
      }
    });
  }
  if (raw.resolver.root_trust_anchor === false && !(Array.isArray(raw.resolver.forwarders) && raw.resolver.forwarders.length > 0)) {
    add(['resolver', 'root_trust_anchor'], 'can be false only with resolver.forwarders (a private DNS tree); recursing from the root needs the root\'s key');
  }

  checkBlocklists(raw.spam.blocklists, add);

  const { greylist, add_header: addHeader, reject } = raw.spam;
  if (typeof greylist === 'number' && typeof addHeader === 'number' && typeof reject === 'number' && (greylist > addHeader || addHeader > reject)) {
    add(['spam'], 'thresholds must rise: greylist ≤ add_header ≤ reject');
  }
  return problems;
}

/**
 * The other hosts: each name, host name, address and SSH target once across all hosts (the primary
 * included), their addresses public unless allowed, at most one standby, on the primary's release.
 */
function checkServers(
  primary: Lenient['server'],
  servers: Lenient['servers'],
  lab: boolean,
  add: (path: Array<string | number>, message: string) => void,
): void {
  const seen = new Map<string, string>();
  let standbys = 0;
  const once = (kind: string, value: unknown, path: Array<string | number>) => {
    if (typeof value !== 'string') return;
    const key = `${kind}\0${value.toLowerCase()}`;
    const prior = seen.get(key);
    if (prior !== undefined) add(path, `${value} is already the ${kind} of ${prior}; each host has its own`);
    else seen.set(key, path.slice(0, -1).join('.'));
  };
  once('name', primary.name ?? 'primary', ['server', 'name']);
  for (const field of ['hostname', 'ipv4', 'ipv6', 'ssh'] as const) once(field, primary[field], ['server', field]);
  servers.forEach((entry, i) => {
    const path = ['servers', i];
    const server = entry && typeof entry === 'object' ? (entry as Record<string, unknown>) : {};
    once('name', server.name, [...path, 'name']);
    for (const field of ['hostname', 'ipv4', 'ipv6', 'ssh'] as const) once(field, server[field], [...path, field]);
    const allowed = typeof server.allow_private_addresses === 'boolean' ? server.allow_private_addresses : lab;
    for (const field of ['ipv4', 'ipv6'] as const) {
      const value = server[field];
      const problem = typeof value === 'string' ? serverAddressProblem(value, allowed) : undefined;
      if (problem) add([...path, field], `${value} ${problem.replace('server.allow_private_addresses', `servers.${i}.allow_private_addresses`)}`);
    }
    if (server.role === 'standby') {
      if (standbys++ > 0) add([...path, 'role'], 'a second standby: mailrig replicates the mailboxes to one standby (make this one a backup-mx, or remove it)');
      // Dovecot 2.3 (Debian 12) and 2.4 (Debian 13) do not share index and sync formats.
      if (typeof server.release === 'string' && typeof primary.release === 'string' && server.release !== primary.release) {
        add([...path, 'release'], `is ${server.release}, the primary's (server.release) is ${primary.release}: a standby runs the primary's release (Dovecot's mailbox indexes and sync format differ between releases)`);
      }
    }
    if (server.role === 'primary') add([...path, 'role'], 'the primary is server:, not an entry of servers');
  });
}

/** tls_policy: each key a domain (or .domain) outside this server's own mail domains, each once. */
function checkTlsPolicy(policy: Record<string, unknown>, domains: Map<string, string>, add: (path: Array<string | number>, message: string) => void): void {
  const seen = new Map<string, string>();
  for (const key of Object.keys(policy)) {
    const path = ['tls_policy', key];
    if (policy[key] === 'none') add(path, 'none is not offered: mail there would go out in plaintext even where TLS is offered (may is the least)');
    if (!isPolicyDestination(key)) {
      add(path, `"${key}" is not a domain name (example.com, or .example.com for its subdomains)`);
      continue;
    }
    const destination = policyDestination(key);
    const prior = seen.get(destination);
    if (prior !== undefined) add(path, `is the same destination as "${prior}"`);
    else seen.set(destination, key);
    if (domains.has(destination)) add(path, `"${key}" is a mail domain of this server: its mail is delivered here and never leaves over SMTP`);
  }
}

/**
 * Extra blocklists: each zone once (two zones whose symbols would be the same, like bl-x.net and
 * bl.x.net, count as one), and none of Spamhaus's, which rspamd already asks.
 */
function checkBlocklists(lists: unknown, add: (path: Array<string | number>, message: string) => void): void {
  if (!Array.isArray(lists)) return;
  const seen = new Map<string, number>();
  lists.forEach((l: unknown, i) => {
    const zone = l && typeof l === 'object' ? (l as { zone?: unknown }).zone : undefined;
    if (typeof zone !== 'string' || !isZoneName(zone)) return;
    const path = ['spam', 'blocklists', i, 'zone'];
    if (/(^|\.)spamhaus\.(org|net)$/i.test(zone)) {
      add(path, `${zone} is Spamhaus's: rspamd already asks ZEN and DBL (set spam.spamhaus_dqs_key to use your DQS key)`);
      return;
    }
    const symbol = blocklistSymbol(zone.toLowerCase());
    const prior = seen.get(symbol);
    if (prior !== undefined) add(path, `${zone} is already listed at spam.blocklists.${prior} (both would be rspamd symbol ${symbol})`);
    else seen.set(symbol, i);
  });
}

type RawRelay = { host?: unknown; port?: unknown; username?: unknown };

/**
 * Relays: a submission port needs a login; a sender-domain relay only for a mail domain of this
 * server, a recipient-domain relay only for an outside domain; one host:port, one login (the
 * password table is keyed by host and port).
 */
function checkRelays(
  relay: Record<string, unknown> | undefined,
  domains: Map<string, string>,
  add: (path: Array<string | number>, message: string) => void,
): void {
  if (!relay) return;
  const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const logins = new Map<string, { login: unknown; where: string }>();
  const one = (r: unknown, path: Array<string | number>) => {
    const x = obj(r) as RawRelay;
    const port = x.port ?? 587;
    if ((port === 587 || port === 465) && (typeof x.username !== 'string' || x.username === '')) {
      add([...path, 'username'], `is required for port ${String(port)}: a submission port takes mail only after a login (its password goes in with mailrig relay password ${typeof x.host === 'string' ? x.host : 'HOST'})`);
    }
    if (typeof x.host !== 'string') return;
    const key = `${x.host.toLowerCase()}:${String(port)}`;
    const prior = logins.get(key);
    if (prior && prior.login !== x.username) {
      add([...path, 'username'], `${x.host} port ${String(port)} is already used with another login at ${prior.where}; one relay host and port has one login`);
    } else if (!prior) logins.set(key, { login: x.username, where: path.join('.') });
  };
  if (relay.default !== undefined) one(relay.default, ['relay', 'default']);
  for (const [d, r] of Object.entries(obj(relay.sender_domains))) {
    const path = ['relay', 'sender_domains', d];
    const ascii = toAsciiDomain(d);
    if (ascii === undefined || !domains.has(ascii)) add(path, `"${d}" is not a mail domain of this server (domains: ${[...domains.values()].join(', ')})`);
    one(r, path);
  }
  for (const [d, r] of Object.entries(obj(relay.recipient_domains))) {
    const path = ['relay', 'recipient_domains', d];
    const ascii = toAsciiDomain(d);
    if (ascii === undefined || !isDomainName(d)) add(path, `"${d}" is not a valid domain name`);
    else if (domains.has(ascii)) add(path, `"${d}" is a mail domain of this server: its mail is delivered here, never relayed`);
    one(r, path);
  }
}

type Lenient = Pick<RawConfig, 'domains'> & {
  relay?: Record<string, unknown> | undefined;
  tlsPolicy: Record<string, unknown>;
  resolver: Record<string, unknown> & { forwarders?: unknown; root_trust_anchor?: unknown };
  dns: Partial<RawConfig['dns']>;
  spam: Partial<RawConfig['spam']>;
  server: Partial<RawConfig['server']>;
  servers: unknown[];
};

/** The parts of a possibly invalid config the rules read, with wrong-typed parts left out. */
function lenient(input: RawConfig): Lenient {
  const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const strings = (v: unknown): string[] | string | undefined =>
    typeof v === 'string' ? v : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
  const domains: RawConfig['domains'] = {};
  for (const [key, d] of Object.entries(obj(input.domains))) {
    const domain = obj(d);
    const mailboxes: RawConfig['domains'][string]['mailboxes'] = {};
    for (const [local, m] of Object.entries(obj(domain.mailboxes))) {
      const mb = obj(m);
      mailboxes[local] = {
        password_hash: typeof mb.password_hash === 'string' ? mb.password_hash : '',
        quota: undefined,
        aliases: [strings(mb.aliases) ?? []].flat(),
        send_only: mb.send_only === true,
        app_passwords: {},
      };
    }
    const aliases: Record<string, string | string[]> = {};
    for (const [local, t] of Object.entries(obj(domain.aliases))) aliases[local] = strings(t) ?? [];
    domains[key] = { mailboxes, aliases, catch_all: strings(domain.catch_all), dmarc: { policy: 'quarantine' } };
  }
  return {
    domains,
    dns: obj(input.dns) as Lenient['dns'],
    spam: obj(input.spam) as Lenient['spam'],
    server: obj(input.server) as Lenient['server'],
    servers: Array.isArray(input.servers) ? input.servers : [],
    relay: input.relay === undefined ? undefined : obj(input.relay),
    tlsPolicy: obj(input.tls_policy),
    resolver: obj(input.resolver),
  };
}

/**
 * Aliases that lead back to themselves (a → a, or a → b → a): mail to them is accepted, then
 * bounces when the server expands it. Each loop is named once, at its first alias in file order.
 */
function aliasLoops(edges: Map<string, { path: Array<string | number>; targets: string[] }>): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const reported = new Set<string>();
  for (const [start, { path }] of edges) {
    if (reported.has(start)) continue;
    // Breadth-first from start's targets; the chain that returns to start is the loop.
    const from = new Map<string, string>();
    const queue = [...(edges.get(start)?.targets ?? [])];
    for (const t of queue) if (!from.has(t)) from.set(t, start);
    let closed = false;
    while (queue.length > 0 && !closed) {
      const node = queue.shift() as string;
      if (node === start) {
        closed = true;
        break;
      }
      for (const next of edges.get(node)?.targets ?? []) {
        if (from.has(next)) continue;
        from.set(next, node);
        queue.push(next);
      }
    }
    if (!closed) continue;
    const chain = [start];
    for (let at = from.get(start); at !== undefined && at !== start; at = from.get(at)) chain.unshift(at);
    chain.unshift(start);
    chain.forEach((a) => reported.add(a));
    problems.push({
      path,
      message:
        chain.length === 2
          ? `${show(start)} is an alias of itself; mail to it would be accepted, then bounce`
          : `alias loop ${chain.map(show).join(' → ')}; mail to it would be accepted, then bounce`,
    });
  }
  return problems;
}

function checkAliasName(
  name: string,
  path: Array<string | number>,
  add: (path: Array<string | number>, message: string) => void,
): boolean {
  const ok = name.includes('@') ? isEmailAddress(name) : isLocalPart(name);
  if (!ok) add(path, `"${name}" is not a valid address or local part`);
  return ok;
}

function isManaged(address: string, domains: Map<string, string>): boolean {
  return domains.has(address.slice(address.lastIndexOf('@') + 1));
}

function hint(address: string, mailboxes: Set<string>): string {
  const close = closest(address, [...mailboxes]);
  return close ? ` (did you mean ${show(close)}?)` : '';
}

/** The candidate nearest to `word` by edit distance, when it is near enough to be a likely typo. */
export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
