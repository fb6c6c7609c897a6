// mailrig user vacation ADDRESS on|off: a mailbox's automatic reply in mailrig.yaml, edited in place
// (comments kept) and validated as a whole before it is written. Apply renders it as the mailbox's
// vacation Sieve script, which Dovecot reads at the next delivery: nothing restarts.
import { readFileSync } from 'node:fs';
import { saveEdit, setVacation, type Plain } from '../config/edit.js';
import { isEmailAddress } from '../config/syntax.js';
import { UsageError } from '../errors.js';
import { applyIfAsked, defaultIo, requireMailbox, type AccountsIo, type CommonOptions } from './user.js';

export const VACATION_DEFAULTS = {
  subject: 'Out of office',
  body: 'Thank you for your message. I am away and will answer it when I am back.\n',
};

export interface VacationOptions extends CommonOptions {
  subject?: string;
  bodyFile?: string;
  from?: string;
  until?: string;
  days?: string;
}

/** YYYY-MM-DD naming a real day, or a UsageError naming the flag. */
export function checkDate(text: string, flag: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.toISOString().slice(0, 10) !== text) throw new UsageError(`${flag} ${text}: not a date (try 2026-08-31)`);
  return text;
}

export async function runUserVacation(address: string, state: string, opts: VacationOptions, io: AccountsIo = defaultIo()): Promise<number> {
  if (state !== 'on' && state !== 'off') throw new UsageError(`${state}: say on or off`);
  const { path, text, doc, shown, mailbox } = requireMailbox(opts.config, address);
  if (state === 'off') {
    const given = (['subject', 'bodyFile', 'from', 'until', 'days'] as const).filter((k) => opts[k] !== undefined);
    if (given.length) throw new UsageError(`off takes no reply settings (got --${given[0]?.replace('bodyFile', 'body-file')})`);
    if (!mailbox.vacation) {
      io.out(`${shown} has no automatic reply; nothing changed.\n`);
      return 0;
    }
    saveEdit(path, setVacation(text, address, undefined, doc));
    io.out(`Switched off the automatic reply of ${shown} in ${opts.config}.\n`);
    return applyIfAsked(opts, io);
  }
  const old = mailbox.vacation;
  if (opts.until !== undefined) checkDate(opts.until, '--until');
  if (opts.from !== undefined && !isEmailAddress(opts.from)) throw new UsageError(`--from ${opts.from}: not an email address`);
  if (opts.days !== undefined && !/^([1-9]|[12]\d|30)$/.test(opts.days)) throw new UsageError(`--days ${opts.days}: a whole number of days from 1 to 30`);
  if (opts.subject !== undefined && (opts.subject.trim() === '' || /[\r\n]/.test(opts.subject))) {
    throw new UsageError('--subject: one line of text, not empty');
  }
  let body = old?.body ?? VACATION_DEFAULTS.body;
  if (opts.bodyFile !== undefined) {
    try {
      body = readFileSync(opts.bodyFile === '-' ? 0 : opts.bodyFile, 'utf8');
    } catch (e) {
      throw new UsageError(`--body-file ${opts.bodyFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (body.trim() === '') throw new UsageError(`--body-file ${opts.bodyFile}: the file is empty`);
  }
  const vacation: Record<string, Plain> = { subject: opts.subject ?? old?.subject ?? VACATION_DEFAULTS.subject, body };
  const from = opts.from ?? old?.from;
  if (from !== undefined) vacation.from = from;
  const until = opts.until ?? old?.until;
  if (until !== undefined) vacation.until = until;
  const days = opts.days !== undefined ? Number(opts.days) : old?.days;
  if (days !== undefined && days !== 7) vacation.days = days;
  const today = io.now().toISOString().slice(0, 10);
  saveEdit(path, setVacation(text, address, vacation, doc));
  io.out(`Switched on the automatic reply of ${shown}${until ? ` until ${until}` : ''} in ${opts.config}.\n`);
  if (until !== undefined && until < today) io.out(`Note: ${until} has passed; no reply goes out until --until is later.\n`);
  return applyIfAsked(opts, io);
}
