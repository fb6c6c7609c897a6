// Password hashing in Dovecot's {SCHEME} form, done on the operator's machine so the plaintext never
// leaves it. ARGON2ID with libsodium-compatible parameters (Dovecot verifies through libsodium, which
// only supports a parallelism of 1).
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { argon2id, argon2Verify } from 'hash-wasm';

export const ARGON2_PARAMS = { iterations: 3, memorySize: 65536, parallelism: 1, hashLength: 32 } as const;

export async function hashPassword(password: string): Promise<string> {
  const encoded = await argon2id({
    password,
    salt: randomBytes(16),
    ...ARGON2_PARAMS,
    outputType: 'encoded',
  });
  return `{ARGON2ID}${encoded}`;
}

/** Whether `password` matches a {ARGON2ID} hash made by hashPassword. */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  if (!hash.startsWith('{ARGON2ID}')) return false;
  return argon2Verify({ password, hash: hash.slice('{ARGON2ID}'.length) });
}

// How strong a password is: zxcvbn's estimate of the guesses an attacker needs, who tries common
// passwords, words, names, dates, keyboard walks and their usual variations (capitals, digits, l33t)
// first. Loaded on first use: its dictionaries cost every other command start-up time.
type Zxcvbn = typeof import('@zxcvbn-ts/core');
type Common = typeof import('@zxcvbn-ts/language-common');
let estimator: Zxcvbn['zxcvbn'] | undefined;

function estimate(password: string): ReturnType<Zxcvbn['zxcvbn']> {
  if (estimator === undefined) {
    const require = createRequire(import.meta.url);
    const core = require('@zxcvbn-ts/core') as Zxcvbn;
    const common = require('@zxcvbn-ts/language-common') as Common;
    core.zxcvbnOptions.setOptions({ dictionary: { ...common.dictionary }, graphs: common.adjacencyGraphs });
    estimator = core.zxcvbn;
  }
  return estimator(password);
}

/** The least a password must have: this length, and zxcvbn's score 3 of 4 (about 10^8 guesses). */
export const MIN_PASSWORD_LENGTH = 12;
const MIN_SCORE = 3;
const ESTIMATE_LIMIT = 256; // zxcvbn's time grows with length; longer passwords are judged on their first characters

// zxcvbn's reasons, by its keys, in mailrig's words.
const WHY: Record<string, string> = {
  straightRow: 'is a row of keys',
  keyPattern: 'is a keyboard pattern',
  simpleRepeat: 'repeats a character',
  extendedRepeat: 'repeats a group of characters',
  sequences: 'is a sequence like abc or 123',
  recentYears: 'is built on a recent year',
  dates: 'is built on a date',
  topTen: 'is one of the ten most used passwords',
  topHundred: 'is one of the hundred most used passwords',
  common: 'is a commonly used password',
  similarToCommon: 'is a common password with small changes',
  wordByItself: 'is a single word',
  namesByThemselves: 'is a name',
  commonNames: 'is built on a common name',
  userInputs: 'is built on personal details',
  pwned: 'has appeared in data breaches',
};

/** Why a password is too weak (what was found, and what would do), or undefined when it is acceptable. */
export function passwordWeakness(password: string): string | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return `is shorter than ${MIN_PASSWORD_LENGTH} characters`;
  const result = estimate(password.slice(0, ESTIMATE_LIMIT));
  if (result.score >= MIN_SCORE) return undefined;
  const warning = result.feedback.warning ?? '';
  const why = WHY[warning] ?? 'follows a pattern attackers try early';
  return (
    `is too easy to guess: it ${why} (about 10^${Math.max(0, Math.floor(Math.log10(result.guesses)))} guesses; at least 10^8 are needed). ` +
    'Three or four unrelated words, or 12 or more random characters, are accepted'
  );
}
