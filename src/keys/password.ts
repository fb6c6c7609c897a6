// Password hashing in Dovecot's {SCHEME} form, done on the operator's machine so the plaintext never
// leaves it. ARGON2ID with libsodium-compatible parameters (Dovecot verifies through libsodium, which
// only supports a parallelism of 1).
import { randomBytes } from 'node:crypto';
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

// A short list of the passwords attackers try first; longer lists belong in a file, not in code.
const COMMON = new Set([
  'password', 'password1', 'password123', '123456789012', 'qwertyuiopas', 'letmeinletmein',
  'iloveyou1234', 'administrator', 'welcome12345', 'changemechangeme', 'passwordpassword',
  'qwerty123456', '1q2w3e4r5t6y', 'abcdefghijkl', '111111111111', '000000000000',
]);

/** Why a password is too weak, or undefined when it is acceptable. */
export function passwordWeakness(password: string): string | undefined {
  if (password.length < 12) return 'is shorter than 12 characters';
  if (COMMON.has(password.toLowerCase())) return 'is on the list of common passwords';
  if (/^(.)\1+$/.test(password)) return 'repeats one character';
  return undefined;
}
