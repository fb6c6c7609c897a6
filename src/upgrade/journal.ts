// The upgrade's step journal, kept on the host (/var/lib/mailrig/state/upgrade): one line per step
// done, so that `mailrig upgrade` run again continues after the last step that completed. Pure:
// the pipeline reads the file with the other facts and writes each line as the step ends.

/** The steps of an upgrade, in order. Those before `packages` can be undone; from it on, only completed. */
export const STEPS = ['paused', 'sources', 'downloaded', 'validated', 'stopped', 'packages', 'applied', 'resumed', 'recorded'] as const;
export type Step = (typeof STEPS)[number];

/** The first step that changes installed packages: a failure before it puts the host back as it was. */
export const POINT_OF_NO_RETURN: Step = 'packages';

export const JOURNAL = '/var/lib/mailrig/state/upgrade';

export interface Journal {
  /** The release the journal upgrades to (its first line). */
  to: string;
  /** Steps completed, in order. */
  done: Step[];
}

const isStep = (s: string): s is Step => (STEPS as readonly string[]).includes(s);

/** "to debian-13" then one "done <step> <ISO time>" line per completed step; unknown lines are ignored. */
export function parseJournal(lines: string[]): Journal | undefined {
  let to: string | undefined;
  const done: Step[] = [];
  for (const line of lines) {
    const [word, value] = line.trim().split(/\s+/);
    if (word === 'to' && value) to = value;
    else if (word === 'done' && value && isStep(value) && !done.includes(value)) done.push(value);
  }
  if (to === undefined) return undefined;
  // Only a prefix of the step order counts: a step is done only when every one before it is.
  const prefix: Step[] = [];
  for (const step of STEPS) {
    if (!done.includes(step)) break;
    prefix.push(step);
  }
  return { to, done: prefix };
}

export function journalHeader(to: string): string {
  return `to ${to}\n`;
}

export function journalLine(step: Step, at: Date): string {
  return `done ${step} ${at.toISOString()}\n`;
}

/** The steps still to run, in order. */
export function remaining(journal: Journal | undefined): Step[] {
  const done = new Set(journal?.done ?? []);
  return STEPS.filter((s) => !done.has(s));
}

/** Whether the host's installed packages may already have changed (then an undo is no longer possible). */
export function pastNoReturn(journal: Journal | undefined, failed?: Step): boolean {
  const cut = STEPS.indexOf(POINT_OF_NO_RETURN);
  const reached = Math.max(...(journal?.done ?? []).map((s) => STEPS.indexOf(s)), failed ? STEPS.indexOf(failed) : -1);
  return reached >= cut;
}

/** What each step does, as the plan and the report print it. */
export const STEP_TEXT: Record<Step, string> = {
  paused: 'pause mail intake: Postfix answers 4xx ("try again later") on port 25, senders retry',
  sources: 'switch the apt sources from bookworm to trixie (the old files kept) and apt-get update',
  downloaded: 'download every package of the upgrade (apt-get --download-only full-upgrade)',
  validated:
    'validate the Debian 13 configuration with the Debian 13 daemons before anything is installed: the downloaded packages unpacked beside the system (no script run), the new tree staged over the live one, each daemon\'s own check run in that root; then both removed',
  stopped: 'stop the mail services (Postfix keeps its queue, Dovecot its mailboxes)',
  packages: 'apt-get full-upgrade, noninteractive, keeping the configuration files mailrig wrote',
  applied: 'render the Debian 13 configuration, validate it with the new daemons, swap it in, start every service, check health',
  resumed: 'resume mail intake (the rendered main.cf has no pause) and check Postfix accepts again',
  recorded: 'set server.release: debian-13 in mailrig.yaml',
};
