// When setup can already reach the server, it asks it for what the interview would otherwise guess:
// its addresses, its name and its release. One command; a pure parser for its output.
import { isFqdn } from '../config/syntax.js';
import type { Release } from '../config/schema.js';
import { parseOsRelease, releaseOf } from '../host/facts.js';

export interface Guesses {
  hostname?: string;
  ipv4?: string;
  ipv6?: string;
  release?: Release;
}

export const PROBE_COMMAND = [
  'cat /etc/os-release',
  'echo "### hostname"',
  'hostname -f 2>/dev/null || hostname',
  'echo "### addresses"',
  'ip -o addr show scope global 2>/dev/null',
].join('; ');

export function parseProbe(output: string): Guesses {
  const [osPart = '', rest = ''] = output.split('### hostname\n');
  const [hostPart = '', addrPart = ''] = rest.split('### addresses\n');
  const guesses: Guesses = {};
  const release = releaseOf(parseOsRelease(osPart.split('\n')));
  if (release) guesses.release = release;
  const hostname = hostPart.trim();
  if (isFqdn(hostname)) guesses.hostname = hostname;
  for (const line of addrPart.split('\n')) {
    // "2: eth0    inet 203.0.113.10/24 brd … scope global eth0"
    const m = /\binet(6?) ([0-9a-f.:]+)\/\d+/.exec(line);
    if (!m) continue;
    if (m[1] === '' && !guesses.ipv4 && !isPrivateV4(m[2] ?? '')) guesses.ipv4 = m[2];
    if (m[1] === '6' && !guesses.ipv6 && !/^f[cd]/i.test(m[2] ?? '')) guesses.ipv6 = m[2];
  }
  // A host with only private IPv4 addresses sits behind NAT: its public address must be asked.
  return guesses;
}

function isPrivateV4(a: string): boolean {
  return /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|127\.|100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.)/.test(a);
}
