// The config loader under random YAML: a batch of mutations of a valid mailrig.yaml, run by
// test/unit/config-fuzz.test.ts in a child process (so that a hang is a child that never finishes).
// Each mutated text must load, or be refused with the loader's own ConfigError (exit 2 in the CLI)
// naming at least one problem; anything else thrown is a crash and fails the batch.
//
//   node dist/test/support/config-fuzz.js SEED RUNS
//
// Prints the seed first, and on failure fast-check's counterexample (re-run with the same seed).
import fc from 'fast-check';
import { parseDocument, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { initialConfigText } from '../../src/config/write.js';
import { ConfigError } from '../../src/errors.js';
import { TEST_HASH } from './fixtures.js';

/** A valid mailrig.yaml with every section, an IDN domain and a list alias, to mutate. */
export function validConfigText(): string {
  const text = initialConfigText({
    hostname: 'mail.example.com',
    ipv4: '203.0.113.10',
    ipv6: '2001:db8::10',
    ssh: 'root@203.0.113.10',
    release: 'debian-12',
    domains: ['example.com', 'bücher.test'],
    adminEmail: 'postmaster@example.com',
    acme: 'self-signed',
    mailbox: { address: 'alice@example.com', passwordHash: TEST_HASH },
  });
  return `${text}security:\n  max_auth_failures: 5\n  ban_minutes: 60\nbackup:\n  repository: /var/backups/mailrig-restic\n  schedule: "03:30"\n  keep_daily: 7\n  keep_weekly: 4\n  keep_monthly: 12\n`;
}

// Values that have broken loaders before, or sit at the edges of what a field takes.
const nasty = fc.constantFrom<unknown>(
  '', ' ', '1h', '50M', '0', '-1', '1e400', 'NaN', '.inf', 'fe80::1%eth0', '::1', '10.0.0.1', '0.0.0.0',
  'bücher.test', 'xn--bcher-kva.test', 'xn--', 'a/b', '..', '.', 'postmaster', 'alice', 'alice@example.com',
  '{ARGON2ID}x', 'root@@x', 'local', '~', 'null', 'true', 'yes', '<<', '__proto__', 'constructor', 'toString',
  'a'.repeat(300), '\u0000', '\t', '%', '*', '&', '!', '|', '>', '#', 0, -1, 1.5, 2 ** 53, -(2 ** 63), Number.MAX_VALUE,
  true, false, null, [], {}, [null], { '': null },
);

const value: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nasty,
    fc.string({ maxLength: 12 }),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), nasty.map(String)), tie('v'), { maxKeys: 3 }),
  ),
})).v;

type Path = Array<string | number>;

/** Every path in a parsed document, to pick a target from. */
function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

type Edit =
  | { kind: 'set'; pick: number; value: unknown }
  | { kind: 'delete'; pick: number }
  | { kind: 'rename'; pick: number; key: string }
  | { kind: 'text'; at: number; cut: number; insert: string };

const yamlBits = fc.constantFrom(
  ':', ': ', '- ', '-', '{', '}', '[', ']', ',', '"', "'", '&a ', '*a', '<<: *a', '!!binary ', '!!str ', '!!int ',
  '!!float ', '!!map ', '!!seq ', '!!set ', '!!omap ', '!!timestamp ', '!custom ', '? ', '---\n', '...\n',
  '%YAML 1.1\n', '%TAG ! tag:x,2000:\n', '\t', '\n', '  ', '#', '|\n', '>-\n', '\\u0000', '\ufeff', '\r', '2001-12-14',
  '0x1F', '0o17', '1_000', '+12', '.nan', '-.inf', '~', 'Yes', 'off',
);

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), key: fc.oneof(fc.string({ maxLength: 8 }), nasty.map(String)) }),
  fc.record({
    kind: fc.constant('text' as const),
    at: fc.nat(),
    cut: fc.nat({ max: 20 }),
    insert: fc.oneof(fc.array(yamlBits, { maxLength: 4 }).map((a) => a.join('')), fc.string({ maxLength: 10 })),
  }),
);

/** Applies edits to the text: structural ones through the yaml Document, textual ones on the characters. */
export function mutate(text: string, edits: Edit[]): string {
  let out = text;
  for (const e of edits) {
    if (e.kind === 'text') {
      const at = e.at % (out.length + 1);
      out = out.slice(0, at) + e.insert + out.slice(at + e.cut);
      continue;
    }
    const doc = parseDocument(out, { uniqueKeys: false, logLevel: 'error' });
    if (doc.errors.length > 0) continue; // structural edits need a document; the text stays broken as is
    let js: unknown;
    try {
      js = doc.toJS({ maxAliasCount: 1000 });
    } catch {
      continue;
    }
    const all = paths(js).filter((p) => p.length > 0);
    if (all.length === 0) continue;
    const path = all[e.pick % all.length] as Path;
    try {
      if (e.kind === 'set') doc.setIn(path, doc.createNode(e.value));
      else if (e.kind === 'delete') doc.deleteIn(path);
      else if (typeof path[path.length - 1] === 'string') {
        const v = doc.getIn(path, true);
        doc.deleteIn(path);
        doc.setIn([...path.slice(0, -1), e.key], v);
      }
    } catch {
      continue; // a path the yaml document cannot edit (e.g. through an alias): this edit is skipped
    }
    out = doc.toString({ lineWidth: 0 });
  }
  return out;
}

export function runBatch(seed: number, numRuns: number): void {
  const base = validConfigText();
  parseConfig(base, 'mailrig.yaml'); // the starting point is valid
  fc.assert(
    fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
      const text = mutate(base, edits);
      try {
        parseConfig(text, 'mailrig.yaml');
      } catch (e) {
        if (!(e instanceof ConfigError)) throw new Error(`crashed (not a ConfigError) on:\n${text}\n${(e as Error).stack ?? e}`);
        if (e.problems.length === 0) throw new Error(`ConfigError without a problem on:\n${text}`);
        // Every problem is printable: what the CLI shows for exit 2.
        if (typeof e.format() !== 'string') throw new Error('unprintable ConfigError');
      }
    }),
    { seed, numRuns, endOnFailure: false, verbose: 1 },
  );
}

if (process.argv[1]?.endsWith('config-fuzz.js')) {
  const seed = Number(process.argv[2] ?? 1);
  const runs = Number(process.argv[3] ?? 300);
  process.stdout.write(`config fuzz: seed ${seed}, ${runs} runs\n`);
  runBatch(seed, runs);
  process.stdout.write(`config fuzz: ${runs} runs, no crash (${stringify({ seed }).trim()})\n`);
}
