// Runs independent checks in parallel and keeps their results in the order the checks are listed.
// A check that throws is a bug in mailrig: it is reported as "could not check", never hides others.
import { unknown, type Check, type CheckResult } from './types.js';

export async function runChecks<Env>(checks: Array<Check<Env>>, env: Env): Promise<CheckResult[]> {
  const results = await Promise.all(
    checks.map(async (check) => {
      try {
        return await check.run(env);
      } catch (e) {
        const head = { id: `${check.section}.${check.name}`, section: check.section, subject: check.name };
        return [unknown(head, `the check failed: ${(e as Error).message}`, 'this is a bug in mailrig; please report it with the output of --json')];
      }
    }),
  );
  return results.flat();
}

export function counts(results: CheckResult[]): { ok: number; warn: number; fail: number } {
  return {
    ok: results.filter((r) => r.status === 'ok').length,
    warn: results.filter((r) => r.status === 'warn').length,
    fail: results.filter((r) => r.status === 'fail').length,
  };
}

/** 1 when any check failed. */
export function exitCode(results: CheckResult[]): number {
  return results.some((r) => r.status === 'fail') ? 1 : 0;
}
