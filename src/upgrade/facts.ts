// What the upgrade asks the host beyond apply's facts, in the same round trip: free disk space, held
// packages, the apt sources, packages dpkg left half-done, and the upgrade's own journal. One
// command per section, one parser each.
import { readSections, sectionHeader } from '../host/sections.js';
import { parseJournal, JOURNAL, type Journal } from './journal.js';

export interface UpgradeFacts {
  /** Free kilobytes on the filesystems of / and /var (the smaller). */
  freeKb: number;
  /** Packages apt-mark holds. */
  held: string[];
  /** Every `deb` entry of the apt sources: file, URI, suite. */
  sources: SourceEntry[];
  /** Packages dpkg reports as not fully installed (`dpkg --audit`). */
  broken: string[];
  journal: Journal | undefined;
}

export interface SourceEntry {
  file: string;
  uri: string;
  suite: string;
}

const s = (name: string) => `echo '${sectionHeader('upgrade', name)}'`;

/** Runs as root beside the facts script. */
export function upgradeFactsScript(): string {
  return [
    'export LC_ALL=C',
    `${s('df')}; df -Pk / /var 2>/dev/null | awk 'NR > 1 {print $4}'`,
    `${s('held')}; apt-mark showhold 2>/dev/null || true`,
    // One-line sources as "file<TAB>line"; deb822 .sources files as "file<TAB>URIs: …" and "Suites: …".
    `${s('sources')}; for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do [ -f "$f" ] && grep -E '^[[:space:]]*(deb |URIs:|Suites:|Types:)' "$f" | sed "s|^|$f\t|"; done; true`,
    `${s('audit')}; dpkg --audit 2>/dev/null | awk '/^ [a-z0-9]/ {print $1}' || true`,
    `${s('journal')}; cat ${JOURNAL} 2>/dev/null || true`,
    `echo '${sectionHeader('upgrade', 'end')}'`,
    '',
  ].join('\n');
}

/** `deb [options] uri suite components` lines and deb822 stanzas (URIs:, Suites:) → entries. */
export function parseSources(lines: string[]): SourceEntry[] {
  const out: SourceEntry[] = [];
  const stanza = new Map<string, { uris: string[]; types: string[] }>();
  for (const line of lines) {
    const [file = '', text = ''] = line.split('\t');
    const body = text.trim();
    if (body.startsWith('deb ')) {
      const words = body.replace(/\[[^\]]*\]/, '').split(/\s+/).slice(1);
      if (words[0] && words[1]) out.push({ file, uri: words[0], suite: words[1] });
      continue;
    }
    const [key, ...rest] = body.split(/\s+/);
    const s = stanza.get(file) ?? { uris: [], types: [] };
    stanza.set(file, s);
    if (key === 'Types:') s.types = rest;
    else if (key === 'URIs:') s.uris = rest;
    else if (key === 'Suites:' && (s.types.length === 0 || s.types.includes('deb'))) {
      for (const uri of s.uris) for (const suite of rest) out.push({ file, uri, suite });
    }
  }
  return out;
}

export function parseUpgradeFacts(output: string): UpgradeFacts {
  const sec = readSections(output, 'upgrade');
  const free = (sec.get('df') ?? []).map(Number).filter((n) => Number.isFinite(n));
  return {
    freeKb: free.length ? Math.min(...free) : 0,
    held: sec.get('held') ?? [],
    sources: parseSources(sec.get('sources') ?? []),
    broken: sec.get('audit') ?? [],
    journal: parseJournal(sec.get('journal') ?? []),
  };
}
