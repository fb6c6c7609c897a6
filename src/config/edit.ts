// Edits of mailrig.yaml that keep everything the operator wrote: comments, key order, alignment.
// The yaml Document only locates nodes; changes are spliced into the text, because re-printing the
// Document would re-flow inline comments and blank lines. New entries copy the style of their
// siblings (block or flow, indentation). Every edit is re-validated as a whole before it is written.
import { isMap, isScalar, isSeq, parse, stringify, type Document, type Node, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { ConfigError, UsageError, type ConfigProblem } from '../errors.js';
import { writeAtomic } from '../fs/atomic.js';
import { parseConfig, parseYaml, type LoadedConfig } from './load.js';
import { isPasswordHash } from './schema.js';
import { displayAddress, isLocalPart, toAsciiDomain, toUnicodeDomain } from './syntax.js';

/** An edit whose result would not load: nothing was written. Same format (and exit 2) as loading. */
export class EditRejected extends ConfigError {
  constructor(file: string, problems: ConfigProblem[]) {
    // Line numbers would point into text that was never written; the dotted paths say where.
    super(file, problems.map(({ path, message }) => ({ path, message })));
    this.message = `${file}: not changed; the edit would leave ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  }
}

// ---- text positions -------------------------------------------------------------------------

const lineStart = (text: string, i: number) => text.lastIndexOf('\n', i - 1) + 1;
const lineEnd = (text: string, i: number) => {
  const n = text.indexOf('\n', i);
  return n < 0 ? text.length : n + 1;
};
const column = (text: string, i: number) => i - lineStart(text, i);
const splice = (text: string, from: number, to: number, insert: string) => text.slice(0, from) + insert + text.slice(to);

function range(node: unknown): [number, number, number] {
  const r = (node as Node | null)?.range;
  if (!r) throw new Error('yaml node without a source range');
  return r;
}

/** Where a block map entry lives: its key's line through the last line indented deeper than the key. */
function pairSpan(text: string, pair: Pair): { start: number; end: number; col: number } {
  const keyStart = range(pair.key)[0];
  const col = column(text, keyStart);
  let last = (pair.value as Node | null)?.range?.[1] ?? range(pair.key)[1];
  while (last > keyStart && /\s/.test(text[last - 1] ?? '')) last--;
  let end = lineEnd(text, Math.max(keyStart, last - 1));
  for (let pos = end; pos < text.length; ) {
    const next = lineEnd(text, pos);
    const line = text.slice(pos, next);
    if (line.trim() !== '') {
      if (line.length - line.trimStart().length <= col) break;
      end = next;
    }
    pos = next;
  }
  return { start: lineStart(text, keyStart), end, col };
}

// ---- rendering new values in the file's style ---------------------------------------------------

export type Plain = string | number | boolean | Plain[] | { [key: string]: Plain };

// A multi-line string as one double-quoted line (JSON's escapes are YAML's): a block scalar would
// need the indentation of wherever it lands.
export const scalarText = (v: string | number | boolean) =>
  typeof v === 'string' && /[\n\r]/.test(v) ? JSON.stringify(v) : stringify(v, { lineWidth: 0 }).trimEnd();

function flowText(v: Plain): string {
  if (Array.isArray(v)) return `[${v.map(flowText).join(', ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v).map(([k, x]) => `${scalarText(k)}: ${flowText(x)}`);
    return entries.length ? `{ ${entries.join(', ')} }` : '{}';
  }
  return scalarText(v);
}

// Small maps that init writes inline, as `dmarc: { policy: quarantine }`.
const INLINE_KEYS = new Set(['dmarc']);

/** `key: value` lines at `col`; nested maps as blocks, lists and scalars inline. */
function blockLines(key: string, value: Plain, col: number, step: number, flow: boolean): string {
  const pad = ' '.repeat(col);
  const inline = flow || INLINE_KEYS.has(key) || typeof value !== 'object' || Array.isArray(value);
  if (inline || Object.keys(value).length === 0) {
    return `${pad}${scalarText(key)}: ${flowText(value)}\n`;
  }
  return `${pad}${scalarText(key)}:\n${Object.entries(value).map(([k, v]) => blockLines(k, v, col + step, step, false)).join('')}`;
}

/** The file's indentation step: how far the first domain sits under `domains:`. */
function indentStep(text: string, root: YAMLMap): number {
  const domains = root.get('domains', true);
  const first = isMap(domains) && !domains.flow ? domains.items[0] : undefined;
  return first ? Math.max(1, column(text, range(first.key)[0])) : 2;
}

// ---- the editor -------------------------------------------------------------------------------

/**
 * Holds the text and its parsed document, parsed again only when it is needed after a splice, so
 * node positions are always current. `doc`: the document of `text` when the caller has it already.
 */
class Editor {
  private current: string;
  private parsed: YAMLMap | undefined;

  constructor(text: string, doc?: Document) {
    this.current = text;
    this.parsed = doc && doc.errors.length === 0 && isMap(doc.contents) ? doc.contents : undefined;
  }

  get text(): string {
    return this.current;
  }

  set text(text: string) {
    this.current = text;
    this.parsed = undefined;
  }

  root(): YAMLMap {
    if (this.parsed) return this.parsed;
    const { doc, errors } = parseYaml(this.current);
    if (errors.length > 0 || !isMap(doc.contents)) throw new UsageError('mailrig.yaml is not a YAML map; fix it by hand first');
    this.parsed = doc.contents;
    return this.parsed;
  }

  step(): number {
    return indentStep(this.text, this.root());
  }

  /** Follows `path` through maps; each segment is matched by `match(key, segment)`. */
  find(path: Segment[]): { pair: Pair; map: YAMLMap; parent: Pair | undefined } | undefined {
    let map: YAMLMap = this.root();
    let parent: Pair | undefined;
    for (const [i, seg] of path.entries()) {
      const pair = map.items.find((p) => seg(String(isScalar(p.key) ? p.key.value : p.key)));
      if (!pair) return undefined;
      if (i === path.length - 1) return { pair, map, parent };
      if (!isMap(pair.value)) return undefined;
      parent = pair;
      map = pair.value;
    }
    return undefined;
  }

  /** The map at `path` (created empty, as a block, when missing). */
  mapAt(path: Segment[], keys: string[]): YAMLMap {
    const found = this.find(path);
    if (found && isMap(found.pair.value)) return found.pair.value;
    if (found) throw new UsageError(`${keys.join('.')} is not a map; fix it by hand first`);
    this.setIn(path.slice(0, -1), keys.slice(0, -1), keys[keys.length - 1] ?? '', {});
    const again = this.find(path);
    if (!again || !isMap(again.pair.value)) throw new Error(`could not create ${keys.join('.')}`);
    return again.pair.value;
  }

  /** Sets `key` in the map at `path` (the root when empty): replaces a scalar, or adds the entry. */
  setIn(path: Segment[], keys: string[], key: string, value: Plain): void {
    const map = path.length === 0 ? this.root() : this.mapAt(path, keys);
    const pair = map.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (pair && (isScalar(pair.value) || (isMap(pair.value) && pair.value.flow) || (isSeq(pair.value) && pair.value.flow))) {
      const [from, to] = range(pair.value);
      this.text = splice(this.text, from, to, flowText(value));
    } else if (pair) {
      throw new UsageError(`${[...keys, key].join('.')}: written as a block; change it by hand`);
    } else {
      this.addPair(path, keys, key, value);
    }
  }

  /** Adds `key: value` at the end of the map at `path`, styled like its existing entries. */
  addPair(path: Segment[], keys: string[], key: string, value: Plain): void {
    const owner = path.length === 0 ? undefined : this.find(path);
    const map = owner ? owner.pair.value : this.root();
    if (!isMap(map)) throw new UsageError(`${keys.join('.')} is not a map; fix it by hand first`);
    const step = this.step();
    if (map.flow && map.items.length > 0) {
      const js = { ...(map.toJSON() as Record<string, Plain>), [key]: value };
      const [from, to] = range(map);
      this.text = splice(this.text, from, to, flowText(js));
      return;
    }
    const siblingFlow = map.items.some((p) => (isMap(p.value) || isSeq(p.value)) && (p.value as YAMLMap).flow === true);
    if (map.flow && owner) {
      // `mailboxes: {}` becomes a block: drop the `{}` (keeping any comment after it), add lines below.
      const [from, to] = range(map);
      let ws = from;
      while (ws > 0 && this.text[ws - 1] === ' ') ws--;
      this.text = splice(this.text, ws, to, '');
      const col = column(this.text, range(owner.pair.key)[0]) + step;
      this.text = splice(this.text, lineEnd(this.text, ws), lineEnd(this.text, ws), blockLines(key, value, col, step, false));
      return;
    }
    const last = map.items[map.items.length - 1];
    const first = map.items[0];
    const col = first ? column(this.text, range(first.key)[0]) : 0;
    const at = last ? pairSpan(this.text, last).end : this.text.length;
    const lines = blockLines(key, value, col, step, siblingFlow);
    if (this.uncomment(at, col, key, lines)) return;
    const sep = at > 0 && this.text[at - 1] !== '\n' ? '\n' : '';
    this.text = splice(this.text, at, at, sep + lines);
  }

  /** Replaces a commented-out example `# key: …` among the comments right after a map's entries. */
  private uncomment(at: number, col: number, key: string, lines: string): boolean {
    if (lines.split('\n').length !== 2) return false;
    const example = new RegExp(`^ {${col}}#\\s?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:.*?(\\s+#.*)?$`);
    for (let pos = at; pos < this.text.length; ) {
      const next = lineEnd(this.text, pos);
      const line = this.text.slice(pos, next).replace(/\n$/, '');
      if (line.length - line.trimStart().length !== col || !line.trimStart().startsWith('#')) return false;
      const m = example.exec(line);
      if (m) {
        // The real line takes the example's place, its explanation kept in the same column.
        const body = lines.trimEnd();
        const note = m[1]?.trimStart();
        const noteCol = line.length - (note?.length ?? 0);
        const joined = note ? `${body}${' '.repeat(Math.max(1, noteCol - body.length))}${note}` : body;
        this.text = splice(this.text, pos, next, `${joined}\n`);
        return true;
      }
      pos = next;
    }
    return false;
  }

  /** Removes the entry at `path`; an emptied block map becomes `{}` so the file stays valid. */
  remove(path: Segment[]): void {
    const found = this.find(path);
    if (!found) throw new Error('remove: no such entry');
    const { pair, map, parent } = found;
    if (map.flow) {
      const js = map.toJSON() as Record<string, Plain>;
      delete js[String(isScalar(pair.key) ? pair.key.value : pair.key)];
      const [from, to] = range(map);
      this.text = splice(this.text, from, to, flowText(js));
      return;
    }
    let { start, end } = pairSpan(this.text, pair);
    const { col } = pairSpan(this.text, pair);
    const lineBefore = (i: number) => (i > 0 ? this.text.slice(lineStart(this.text, i - 1), i) : '\n');
    // A comment block right above the entry and set off by a blank line describes it: it goes too.
    // (One directly under another entry may be that entry's, like init's `# catch_all:` example.)
    let above = start;
    while (above > 0 && /^\s*#/.test(lineBefore(above)) && lineBefore(above).length - lineBefore(above).trimStart().length === col) {
      above = lineStart(this.text, above - 1);
    }
    if (above < start && lineBefore(above).trim() === '') start = above;
    // Blank lines on both sides of the entry would become two in a row: keep one.
    if (lineBefore(start).trim() === '' && start > 0 && this.text.slice(end, lineEnd(this.text, end)).trim() === '' && end < this.text.length) {
      end = lineEnd(this.text, end);
    }
    this.text = splice(this.text, start, end, '');
    if (map.items.length === 1 && parent) this.emptyValue(parent, '{}');
  }

  /** Writes `{}` or `[]` as the value of `pair` (whose block value is now gone), before any comment. */
  emptyValue(pair: Pair, empty: string): void {
    const keyEnd = range(pair.key)[1];
    const colon = this.text.indexOf(':', keyEnd);
    const after = this.text.slice(colon + 1, lineEnd(this.text, colon));
    // Keep an inline comment in its column when there is room for the `{}`.
    const take = /^ {4,}#/.test(after) ? empty.length + 1 : 0;
    this.text = splice(this.text, colon + 1, colon + 1 + take, ` ${empty}`);
  }

  /** Sets a list value, in the flow style `[a, b]` unless it is a block list already. */
  setList(path: Segment[], keys: string[], key: string, items: string[]): void {
    const found = this.find([...path, is(key)]);
    const value = found?.pair.value;
    if (isSeq(value) && !value.flow) {
      this.rewriteBlockSeq(value, items);
      return;
    }
    this.setIn(path, keys, key, items);
  }

  /** A block list: keeps the lines of items that stay, drops the others, appends new ones. */
  private rewriteBlockSeq(seq: YAMLSeq, items: string[]): void {
    const first = seq.items[0];
    if (first === undefined) return;
    const dash = this.text.lastIndexOf('-', range(first)[0]);
    const pad = ' '.repeat(column(this.text, dash));
    const old = seq.items.map((n) => String(isScalar(n) ? n.value : ''));
    const spans = seq.items.map((n) => [lineStart(this.text, range(n)[0]), lineEnd(this.text, range(n)[1] - 1)] as const);
    const endOfList = spans[spans.length - 1]?.[1] ?? 0;
    const added = items.filter((i) => !old.includes(i)).map((i) => `${pad}- ${scalarText(i)}\n`).join('');
    this.text = splice(this.text, endOfList, endOfList, added);
    for (const [i, [from, to]] of [...spans.entries()].reverse()) {
      if (!items.includes(old[i] ?? '')) this.text = splice(this.text, from, to, '');
    }
  }
}

type Segment = (key: string) => boolean;
const is = (key: string): Segment => (k) => k === key;
const isLower = (local: string): Segment => (k) => k.toLowerCase() === local;
const isDomain = (ascii: string): Segment => (k) => toAsciiDomain(k) === ascii;

// ---- addresses --------------------------------------------------------------------------------

export interface Address {
  local: string;
  /** ASCII domain. */
  domain: string;
}

/** local@domain (Unicode domains accepted) → its parts, the local part lower-cased. */
export function parseAddress(address: string, what = 'address'): Address {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at).toLowerCase();
  const domain = at > 0 ? toAsciiDomain(address.slice(at + 1)) : undefined;
  if (at <= 0 || domain === undefined || !isLocalPart(local)) throw new UsageError(`${address}: not a valid ${what} (try name@example.com)`);
  return { local, domain };
}

const show = (a: Address) => displayAddress(`${a.local}@${a.domain}`);

/** The domain's key as written in the file (it may be Unicode), or a UsageError naming the domains. */
function domainKey(ed: Editor, ascii: string): string {
  const domains = ed.root().get('domains', true);
  const keys = isMap(domains) ? domains.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key)) : [];
  const key = keys.find((k) => toAsciiDomain(k) === ascii);
  if (key === undefined) {
    throw new UsageError(
      `${toUnicodeDomain(ascii)} is not a mail domain of this server (${keys.join(', ') || 'none'}); add it with mailrig domain add`,
    );
  }
  return key;
}

function mailboxPath(ed: Editor, a: Address): { path: Segment[]; keys: string[] } {
  const key = domainKey(ed, a.domain);
  return { path: [is('domains'), isDomain(a.domain), is('mailboxes'), isLower(a.local)], keys: ['domains', key, 'mailboxes', a.local] };
}

function requireMailbox(ed: Editor, a: Address): { path: Segment[]; keys: string[]; key: string } {
  const { path, keys } = mailboxPath(ed, a);
  const found = ed.find(path);
  if (!found) throw new UsageError(`${show(a)}: no such mailbox`);
  const key = String(isScalar(found.pair.key) ? found.pair.key.value : found.pair.key);
  return { path, keys: [...keys.slice(0, -1), key], key };
}

/** A target as the file writes it: a bare local part when it is in the alias's own domain. */
function targetText(target: string, domain: string): string {
  if (!target.includes('@')) return target.toLowerCase();
  const t = parseAddress(target, 'target address');
  return t.domain === domain ? t.local : target;
}

// ---- the edits --------------------------------------------------------------------------------
// Each takes the file's text and returns the edited text; `doc`, when given, is the text's parsed
// document (from loading it), which spares parsing it again.

export interface NewMailbox {
  passwordHash: string;
  quota?: string | undefined;
  sendOnly?: boolean | undefined;
  aliases?: string[] | undefined;
}

export function addMailbox(text: string, address: string, m: NewMailbox, doc?: Document): string {
  const ed = new Editor(text, doc);
  const a = parseAddress(address);
  const { path, keys } = mailboxPath(ed, a);
  if (ed.find(path)) throw new UsageError(`${show(a)}: already a mailbox; change it with mailrig user passwd or user quota`);
  const value: Record<string, Plain> = { password_hash: m.passwordHash };
  if (m.quota !== undefined) value.quota = m.quota;
  if (m.aliases?.length) value.aliases = m.aliases.map((x) => targetText(x, a.domain));
  if (m.sendOnly) value.send_only = true;
  ed.mapAt(path.slice(0, -1), keys.slice(0, -1));
  ed.addPair(path.slice(0, -1), keys.slice(0, -1), a.local, value);
  return ed.text;
}

export function removeMailbox(text: string, address: string, doc?: Document): string {
  const ed = new Editor(text, doc);
  ed.remove(requireMailbox(ed, parseAddress(address)).path);
  return ed.text;
}

export function setPasswordHash(text: string, address: string, hash: string, doc?: Document): string {
  const ed = new Editor(text, doc);
  const { path, keys } = requireMailbox(ed, parseAddress(address));
  ed.setIn(path, keys, 'password_hash', hash);
  return ed.text;
}

/** Sets a mailbox's quota; undefined removes it, so mail.default_quota applies. */
export function setQuota(text: string, address: string, quota: string | undefined, doc?: Document): string {
  const ed = new Editor(text, doc);
  const { path, keys } = requireMailbox(ed, parseAddress(address));
  if (quota !== undefined) ed.setIn(path, keys, 'quota', quota);
  else if (ed.find([...path, is('quota')])) ed.remove([...path, is('quota')]);
  return ed.text;
}

/** Sets a mailbox's vacation reply (replacing any), or removes it when `vacation` is undefined. */
export function setVacation(text: string, address: string, vacation: Record<string, Plain> | undefined, doc?: Document): string {
  const ed = new Editor(text, doc);
  const { path, keys } = requireMailbox(ed, parseAddress(address));
  if (ed.find([...path, is('vacation')])) ed.remove([...path, is('vacation')]);
  if (vacation !== undefined) ed.addPair(path, keys, 'vacation', vacation);
  return ed.text;
}

/** Sets a mailbox's app passwords (replacing them all); an empty map removes the key. */
export function setAppPasswords(text: string, address: string, passwords: Record<string, Plain>, doc?: Document): string {
  const ed = new Editor(text, doc);
  const { path, keys } = requireMailbox(ed, parseAddress(address));
  if (ed.find([...path, is('app_passwords')])) ed.remove([...path, is('app_passwords')]);
  if (Object.keys(passwords).length) ed.addPair(path, keys, 'app_passwords', passwords);
  return ed.text;
}

/** Adds an alias, or more targets to an existing one; `added` lists the targets that are new. */
export function addAlias(text: string, address: string, targets: string[], doc?: Document): { text: string; added: string[] } {
  const ed = new Editor(text, doc);
  const a = parseAddress(address, 'alias address');
  const key = domainKey(ed, a.domain);
  const wanted = targets.map((t) => targetText(t, a.domain));
  const aliases = [is('domains'), isDomain(a.domain), is('aliases')];
  const keys = ['domains', key, 'aliases'];
  const found = ed.find([...aliases, isLower(a.local)]);
  if (!found) {
    ed.mapAt(aliases, keys);
    ed.addPair(aliases, keys, a.local, wanted.length === 1 ? (wanted[0] ?? '') : wanted);
    return { text: ed.text, added: wanted };
  }
  const current = found.pair.value;
  const old = isSeq(current) ? current.items.map((n) => String(isScalar(n) ? n.value : '')) : [String(isScalar(current) ? current.value : '')];
  const same = (x: string, y: string) => x.toLowerCase() === y.toLowerCase();
  const added = wanted.filter((w) => !old.some((o) => same(o, w)));
  if (added.length === 0) return { text, added };
  const aliasKey = String(isScalar(found.pair.key) ? found.pair.key.value : found.pair.key);
  ed.setList(aliases, keys, aliasKey, [...old, ...added]);
  return { text: ed.text, added };
}

/** Removes an alias: a standalone one, or one a mailbox owns (its `aliases` list). */
export function removeAlias(text: string, address: string, doc?: Document): { text: string; owner?: string } {
  const ed = new Editor(text, doc);
  const a = parseAddress(address, 'alias address');
  domainKey(ed, a.domain);
  const standalone = [is('domains'), isDomain(a.domain), is('aliases'), isLower(a.local)];
  if (ed.find(standalone)) {
    ed.remove(standalone);
    return { text: ed.text };
  }
  // Mailbox-owned aliases can be written in any managed domain, as local parts or full addresses.
  const domains = ed.root().get('domains', true);
  for (const d of isMap(domains) ? domains.items : []) {
    const dKey = String(isScalar(d.key) ? d.key.value : d.key);
    const dAscii = toAsciiDomain(dKey) ?? dKey;
    const mailboxes = isMap(d.value) ? d.value.get('mailboxes', true) : undefined;
    for (const m of isMap(mailboxes) ? mailboxes.items : []) {
      const local = String(isScalar(m.key) ? m.key.value : m.key);
      const list = isMap(m.value) ? m.value.get('aliases', true) : undefined;
      if (!isSeq(list)) continue;
      const items = list.items.map((n) => String(isScalar(n) ? n.value : ''));
      const hit = items.find((i) => {
        const full = i.includes('@') ? i : `${i}@${dAscii}`;
        return toAsciiDomain(full.slice(full.lastIndexOf('@') + 1)) === a.domain && full.slice(0, full.lastIndexOf('@')).toLowerCase() === a.local;
      });
      if (hit === undefined) continue;
      const path = [is('domains'), is(dKey), is('mailboxes'), is(local)];
      const keys = ['domains', dKey, 'mailboxes', local];
      if (items.length === 1) ed.remove([...path, is('aliases')]);
      else ed.setList(path, keys, 'aliases', items.filter((i) => i !== hit));
      return { text: ed.text, owner: displayAddress(`${local}@${dAscii}`) };
    }
  }
  throw new UsageError(`${show(a)}: no such alias (nor an alias of a mailbox)`);
}

/** Adds a domain block like init writes one; postmaster and abuse go to `postmaster` when given. */
export function addDomain(text: string, domain: string, postmaster: string | undefined, doc?: Document): string {
  const ed = new Editor(text, doc);
  const ascii = toAsciiDomain(domain);
  if (ascii === undefined) throw new UsageError(`${domain}: not a valid domain name`);
  const domains = ed.root().get('domains', true);
  if (isMap(domains) && domains.items.some((p) => toAsciiDomain(String(isScalar(p.key) ? p.key.value : p.key)) === ascii)) {
    throw new UsageError(`${toUnicodeDomain(ascii)}: already a mail domain of this server`);
  }
  const value: Record<string, Plain> = {
    mailboxes: {},
    aliases: postmaster === undefined ? {} : { postmaster, abuse: postmaster },
    dmarc: { policy: 'quarantine' },
  };
  ed.addPair([is('domains')], ['domains'], domain.trim().replace(/\.$/, ''), value);
  return ed.text;
}

/** Removes a domain; refuses while it has mailboxes unless `force`. Returns the mailboxes removed. */
export function removeDomain(text: string, domain: string, force: boolean, doc?: Document): { text: string; mailboxes: string[] } {
  const ed = new Editor(text, doc);
  const ascii = toAsciiDomain(domain);
  if (ascii === undefined) throw new UsageError(`${domain}: not a valid domain name`);
  domainKey(ed, ascii);
  const found = ed.find([is('domains'), isDomain(ascii)]);
  const mailboxes = isMap(found?.pair.value) ? found.pair.value.get('mailboxes', true) : undefined;
  const locals = isMap(mailboxes) ? mailboxes.items.map((p) => String(isScalar(p.key) ? p.key.value : p.key)) : [];
  const addresses = locals.map((l) => displayAddress(`${l.toLowerCase()}@${ascii}`));
  if (addresses.length > 0 && !force) {
    throw new UsageError(
      `${toUnicodeDomain(ascii)} still has ${addresses.length} mailbox${addresses.length === 1 ? '' : 'es'} (${addresses.join(', ')}); remove them first, or use --force`,
    );
  }
  ed.remove([is('domains'), isDomain(ascii)]);
  return { text: ed.text, mailboxes: addresses };
}

// ---- top-level sections --------------------------------------------------------------------------

/**
 * Sets entries of a top-level section (e.g. `backup`), adding the section at the end of the file when
 * it is missing; entries not named stay as written.
 */
export function setSectionEntries(text: string, section: string, entries: Record<string, Plain>, doc?: Document): string {
  const ed = new Editor(text, doc);
  if (!ed.find([is(section)])) {
    ed.addPair([], [], section, entries);
    return ed.text;
  }
  for (const [key, value] of Object.entries(entries)) ed.setIn([is(section)], [section], key, value);
  return ed.text;
}

// ---- saving -----------------------------------------------------------------------------------

/** Loads edited text with the same rules as loading a file; a problem rejects the edit (EditRejected). */
export function validateEdit(path: string, edited: string): LoadedConfig {
  try {
    return parseConfig(edited, path);
  } catch (e) {
    if (e instanceof ConfigError) throw new EditRejected(e.file, e.problems);
    throw e;
  }
}

/** Validates the edited text, then writes it atomically; a rejected edit writes nothing. */
export function saveEdit(path: string, edited: string): LoadedConfig {
  const loaded = validateEdit(path, edited);
  writeAtomic(path, edited);
  return loaded;
}

/**
 * Writes `edited`, the text `checked` (a draft validateEdit accepted) with its one `placeholder`
 * password hash replaced by the real `hash`: nothing else differs, so it is valid as the draft was
 * and is not parsed again. Anything else is validated in full, as saveEdit does.
 */
export function saveWithHash(path: string, checked: string, edited: string, placeholder: string, hash: string): void {
  const [from, to] = [scalarText(placeholder), scalarText(hash)];
  const parts = checked.split(from);
  const onlyTheHash =
    parts.length === 2 && parts.join(to) === edited && isPasswordHash(hash) && !to.includes('\n') && parse(from) === placeholder && parse(to) === hash;
  if (onlyTheHash) writeAtomic(path, edited);
  else saveEdit(path, edited);
}

// ---- the primary and the standby ------------------------------------------------------------------

/** The fields a host entry and `server:` share, which a failover swaps between them. */
const HOST_FIELDS = ['hostname', 'ipv4', 'ipv6', 'ssh', 'release'] as const;

/**
 * Makes the standby (`servers[index]`) the primary and the primary the standby: their names, host
 * names, addresses, SSH targets and releases change places between `server:` and that entry, and
 * each keeps the private-address permission it had. Everything else in the file stays as written.
 */
export function swapWithStandby(text: string, index: number): string {
  const { doc, errors } = parseYaml(text);
  if (errors.length > 0 || !isMap(doc.contents)) throw new UsageError('mailrig.yaml is not a YAML map; fix it by hand first');
  const server = doc.get('server', true);
  const servers = doc.get('servers', true);
  const entry = isSeq(servers) ? servers.items[index] : undefined;
  if (!isMap(server) || !isMap(entry)) throw new UsageError(`mailrig.yaml: no server: map or no servers.${index} entry to swap`);
  const get = (m: YAMLMap, key: string): unknown => m.get(key);
  const put = (m: YAMLMap, key: string, value: unknown) => (value === undefined ? m.delete(key) : m.set(key, value));
  const allow = 'allow_private_addresses';
  const hadAllow = server.has(allow) || entry.has(allow);
  const primaryAllow = (get(server, allow) as boolean | undefined) ?? false;
  const standbyAllow = (get(entry, allow) as boolean | undefined) ?? primaryAllow;
  const primaryName = (get(server, 'name') as string | undefined) ?? 'primary';
  const standbyName = get(entry, 'name');
  for (const field of HOST_FIELDS) {
    const was = get(server, field);
    put(server, field, get(entry, field));
    put(entry, field, was);
  }
  if (server.has('name')) server.set('name', standbyName);
  else server.items.unshift(doc.createPair('name', standbyName));
  entry.set('name', primaryName);
  if (hadAllow) {
    server.set(allow, standbyAllow);
    entry.set(allow, primaryAllow);
  }
  return doc.toString();
}
