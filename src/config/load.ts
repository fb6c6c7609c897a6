// Reading mailrig.yaml: YAML syntax, then the schema, then the cross-field rules. Every problem is
// collected with its dotted path and the line where it can be found; nothing is written.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { normalize, type Config } from './model.js';
import { readConfigFile } from './read.js';
import { checkRules, closest } from './rules.js';
import { configSchema, type RawConfig } from './schema.js';

export { readConfigFile };

export interface LoadedConfig {
  path: string;
  config: Config;
  raw: RawConfig;
  /** The parsed document, comments and all, for in-place edits. */
  doc: Document;
}

export function loadConfig(path: string): LoadedConfig {
  return parseConfig(readConfigFile(path), path);
}

/**
 * The YAML document of config text. Repeated keys are found here in one pass over each map: the
 * yaml package's own check compares every key with every earlier one, which takes seconds on a
 * map of thousands of domains.
 */
export function parseYaml(text: string, lineCounter?: LineCounter): { doc: Document; errors: Array<{ offset: number; message: string }> } {
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, keepSourceTokens: false });
  const errors = doc.errors.map((e) => ({ offset: e.pos[0], message: e.message.split('\n')[0] ?? '' }));
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        // A key that is a map, a list, an alias or binary data has no name a config can mean.
        const key = pair.key as Node | null;
        if (isMap(key) || isSeq(key) || isAlias(key) || (isScalar(key) && typeof key.value === 'object' && key.value !== null)) {
          errors.push({ offset: key?.range?.[0] ?? 0, message: 'A key must be plain text, not a map, a list, an alias or binary data' });
          continue;
        }
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) errors.push({ offset: pair.key.range?.[0] ?? 0, message: 'Map keys must be unique' });
        seen.add(pair.key.value);
      }
    },
  });
  return { doc, errors: errors.sort((a, b) => a.offset - b.offset) };
}

/** Parses and validates config text; throws ConfigError listing every problem found. */
export function parseConfig(text: string, file: string): LoadedConfig {
  const lineCounter = new LineCounter();
  const { doc, errors } = parseYaml(text, lineCounter);
  if (errors.length > 0) {
    throw new ConfigError(
      file,
      errors.map((e) => {
        const pos = lineCounter.linePos(e.offset);
        return { path: '', message: `YAML syntax: ${e.message}`, line: pos.line, column: pos.col };
      }),
    );
  }
  const data = plainData(doc, lineCounter, file);
  const at = (path: Array<string | number>) => locate(doc, lineCounter, path);
  const parsed = configSchema.safeParse(data, { reportInput: true });
  const problems = parsed.success ? [] : parsed.error.issues.flatMap((issue) => describeIssue(issue, at));
  const rules = checkRules((parsed.success ? parsed.data : data) as RawConfig);
  problems.push(...rules.map((p) => ({ path: dotted(p.path), message: p.message, ...at(p.path) })));
  if (problems.length > 0 || !parsed.success) {
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    throw new ConfigError(file, problems);
  }
  return { path: file, config: normalize(parsed.data), raw: parsed.data, doc };
}

const MAX_ALIAS_COUNT = 100;

/**
 * The document as plain data. The yaml package finds an alias without its anchor (`*a` before or
 * without `&a`), and an alias count that only a resource-exhaustion attack needs, only here.
 */
function plainData(doc: Document, lineCounter: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (e) {
    if (e instanceof ReferenceError && /alias count/i.test(e.message)) {
      throw new ConfigError(file, [{ path: '', message: `YAML aliases (*name) expand too far (${e.message}); write the values out` }]);
    }
    let offset: number | undefined;
    visit(doc, {
      Alias(_, alias) {
        if (alias.resolve(doc) !== undefined) return undefined;
        offset = alias.range?.[0];
        return visit.BREAK;
      },
    });
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset);
    const message = `YAML: ${(e as Error).message}`;
    throw new ConfigError(file, [{ path: '', message, ...(pos ? { line: pos.line, column: pos.col } : {}) }]);
  }
}

type Locator = (path: Array<string | number>) => { line?: number; column?: number };

function describeIssue(issue: z.core.$ZodIssue, at: Locator): ConfigProblem[] {
  const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(path);
    return issue.keys.map((key) => {
      const guess = closest(key, known);
      const message = `unknown key "${key}"${guess ? ` (did you mean "${guess}"?)` : known.length ? ` (known keys: ${known.join(', ')})` : ''}`;
      return { path: dotted([...path, key]), message, ...at([...path, key]) };
    });
  }
  return [{ path: dotted(path), message: friendly(issue), ...at(path) }];
}

function friendly(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') {
    const expected = EXPECTED[issue.expected] ?? issue.expected;
    return issue.input === undefined ? `is required (${expected})` : `expected ${expected}, found ${found(issue.input)}`;
  }
  if (issue.code === 'invalid_union' && issue.input !== undefined) {
    // size fields: a string or a whole number; the branches' own messages say little.
    return `expected a size (e.g. 10G, 500M or a number of bytes), found ${found(issue.input)}`;
  }
  if ((issue.code === 'too_small' || issue.code === 'too_big') && typeof issue.input === 'number') {
    return `${issue.message.replace(/^Too (small|big): expected number to be /, 'must be ')}, found ${issue.input}`;
  }
  if (issue.code === 'invalid_value') {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}${issue.input === undefined ? '' : `, found ${found(issue.input)}`}`;
  }
  return issue.message;
}

const EXPECTED: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a map of keys',
  record: 'a map of keys',
  array: 'a list',
};

/** What a wrong value is, for "expected X, found Y" (short; long values cut). */
function found(v: unknown): string {
  if (v === null) return 'an empty value';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return 'a date';
  if (typeof v === 'object') return 'a map of keys';
  return typeof v;
}

export function dotted(path: Array<string | number>): string {
  return path.map(String).join('.');
}

/** The keys the schema allows at an object path (for "did you mean"). */
function knownKeys(path: Array<string | number>): string[] {
  let def = unwrap(configSchema._zod.def);
  for (const segment of path) {
    if (def.type === 'object') {
      const child = (def as z.core.$ZodObjectDef).shape[String(segment)];
      if (!child) return [];
      def = unwrap(child._zod.def);
    } else if (def.type === 'record') {
      def = unwrap((def as z.core.$ZodRecordDef).valueType._zod.def);
    } else if (def.type === 'array') {
      def = unwrap((def as z.core.$ZodArrayDef).element._zod.def);
    } else {
      return [];
    }
  }
  return def.type === 'object' ? Object.keys((def as z.core.$ZodObjectDef).shape) : [];
}

function unwrap(def: z.core.$ZodTypeDef): z.core.$ZodTypeDef {
  let d = def;
  while (d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'pipe') {
    const inner = d.type === 'pipe' ? (d as z.core.$ZodPipeDef).in : (d as z.core.$ZodOptionalDef).innerType;
    d = inner._zod.def;
  }
  return d;
}

/** Line and column of the deepest node on `path` that exists in the document (a key's own line for keys). */
function locate(doc: Document, lc: LineCounter, path: Array<string | number>): { line?: number; column?: number } {
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as Node | null)?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === String(segment));
      if (!pair) break;
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  if (offset === undefined) return {};
  const pos = lc.linePos(offset);
  return { line: pos.line, column: pos.col };
}
