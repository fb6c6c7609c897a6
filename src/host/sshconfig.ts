// ~/.ssh/config, the part mailrig needs: Host blocks (patterns with * and ?, negation with !),
// HostName, User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile, Include. As in ssh, the
// first value found for an option wins, except IdentityFile, which accumulates. Match blocks are
// not supported: their options are skipped (the CLI can say so), never applied by mistake.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, dirname, basename } from 'node:path';

export interface SshConfigLine {
  keyword: string; // lower-case
  args: string[];
  file: string;
  line: number;
}

export interface ResolvedSshHost {
  /** What to connect to (HostName with %h expanded, else the alias itself). */
  hostName: string;
  user?: string;
  port?: number;
  /** IdentityFile values in order, ~ and %d/%h/%r/%u expanded. */
  identityFiles: string[];
  identitiesOnly: boolean;
  userKnownHostsFiles: string[];
  /** Lines that could not be honoured (Match blocks, bad values), for a warning. */
  ignored: string[];
}

/** ssh's pattern language: * any run, ? one character; whole-string match. */
export function matchPattern(pattern: string, text: string, caseInsensitive = false): boolean {
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's').test(text);
}

/** Does a Host line's pattern list select alias? A matching negated pattern vetoes it. */
export function hostPatternsMatch(patterns: readonly string[], alias: string): boolean {
  let matched = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    if (!matchPattern(negated ? p.slice(1) : p, alias, true)) continue; // ssh matches host names case-insensitively
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** Splits a config line into keyword and arguments: `Key value`, `Key=value`, "quoted args". */
export function tokenizeLine(raw: string): { keyword: string; args: string[] } | undefined {
  const line = raw.trim();
  if (!line || line.startsWith('#')) return undefined;
  const m = /^([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*)$/s.exec(line);
  if (!m?.[1]) return { keyword: line.toLowerCase(), args: [] };
  const args: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let t = re.exec(m[2] ?? ''); t; t = re.exec(m[2] ?? '')) {
    const word = t[1] ?? t[2] ?? '';
    if (t[2]?.startsWith('#')) break; // trailing comment
    args.push(word);
  }
  return { keyword: m[1].toLowerCase(), args };
}

export interface ParseOptions {
  /** Home directory for ~ and relative Include paths (default: the current user's). */
  home?: string;
}

/** Reads a config file (and its Includes) into lines; a missing file is an empty config. */
export function readSshConfig(file: string, opts: ParseOptions = {}, depth = 0): SshConfigLine[] {
  if (depth > 8 || !existsSync(file)) return [];
  return parseSshConfig(readFileSync(file, 'utf8'), file, opts, depth);
}

export function parseSshConfig(text: string, file: string, opts: ParseOptions = {}, depth = 0): SshConfigLine[] {
  const home = opts.home ?? homedir();
  const out: SshConfigLine[] = [];
  text.split('\n').forEach((raw, i) => {
    const tok = tokenizeLine(raw);
    if (!tok) return;
    if (tok.keyword !== 'include') {
      out.push({ ...tok, file, line: i + 1 });
      return;
    }
    // Include splices the files in place; relative paths are relative to ~/.ssh.
    for (const arg of tok.args) {
      const path = expandTilde(arg, home);
      for (const f of globLastComponent(isAbsolute(path) ? path : join(home, '.ssh', path))) {
        out.push(...readSshConfig(f, opts, depth + 1));
      }
    }
  });
  return out;
}

function globLastComponent(path: string): string[] {
  const name = basename(path);
  if (!/[*?]/.test(name)) return [path];
  const dir = dirname(path);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => matchPattern(name, f))
    .sort()
    .map((f) => join(dir, f));
}

/** Applies the config to one alias, as `ssh alias` would. */
export function resolveSshHost(lines: readonly SshConfigLine[], alias: string, opts: ParseOptions = {}): ResolvedSshHost {
  const home = opts.home ?? homedir();
  const first = new Map<string, string[]>();
  const identityFiles: string[] = [];
  const knownHosts: string[] = [];
  const ignored: string[] = [];
  let active = true; // options before the first Host line apply to every host
  for (const l of lines) {
    if (l.keyword === 'host') {
      active = hostPatternsMatch(l.args, alias);
      continue;
    }
    if (l.keyword === 'match') {
      active = false;
      ignored.push(`${l.file}:${l.line}: Match blocks are not supported; their options were ignored`);
      continue;
    }
    if (!active) continue;
    if (l.keyword === 'identityfile') identityFiles.push(...l.args);
    else if (l.keyword === 'userknownhostsfile' && knownHosts.length === 0) knownHosts.push(...l.args);
    else if (!first.has(l.keyword)) first.set(l.keyword, l.args);
  }
  const hostName = (first.get('hostname')?.[0] ?? alias).replace(/%h/g, alias);
  const user = first.get('user')?.[0];
  const tokens = { d: home, h: hostName, r: user ?? 'root', u: userInfo().username };
  const resolved: ResolvedSshHost = {
    hostName,
    identityFiles: identityFiles.map((f) => expandTokens(expandTilde(f, home), tokens)),
    identitiesOnly: first.get('identitiesonly')?.[0]?.toLowerCase() === 'yes',
    userKnownHostsFiles: knownHosts.map((f) => expandTokens(expandTilde(f, home), tokens)),
    ignored,
  };
  if (user !== undefined) resolved.user = user;
  const portText = first.get('port')?.[0];
  if (portText !== undefined) {
    const port = Number(portText);
    if (/^\d+$/.test(portText) && port > 0 && port < 65536) resolved.port = port;
    else ignored.push(`Port "${portText}" is not a port number; ignored`);
  }
  return resolved;
}

function expandTilde(path: string, home: string): string {
  return path === '~' ? home : path.startsWith('~/') ? join(home, path.slice(2)) : path;
}

function expandTokens(text: string, tokens: Record<string, string>): string {
  return text.replace(/%([%a-z])/g, (all, t: string) => (t === '%' ? '%' : (tokens[t] ?? all)));
}
