// `mailrig dns push`: read what the primary server holds for every owned (name, type), plan the
// changes per zone, show them, send one signed UPDATE per zone that has any.
import { groupRecords } from './compare.js';
import type { DnsResolver } from './resolver.js';
import type { TsigKey } from './tsig.js';
import type { DnsRecord } from './types.js';
import { planChange, sendUpdate, type Change } from './update.js';
import type { Server } from './wire.js';

export interface ZonePlan {
  zone: string;
  changes: Change[];
}

/** The changes each zone needs (PTR records are skipped: they are not in any zone). */
export async function planPush(records: DnsRecord[], primary: DnsResolver): Promise<ZonePlan[]> {
  const inZones = records.filter((r) => r.zone !== null);
  const zones = [...new Set(inZones.map((r) => r.zone as string))];
  const plans: ZonePlan[] = [];
  for (const zone of zones) {
    const changes: Change[] = [];
    for (const group of groupRecords(inZones.filter((r) => r.zone === zone))) {
      const first = group[0];
      if (first === undefined) continue;
      const change = planChange(group, await primary.lookup(first.name, first.type));
      if (change) changes.push(change);
    }
    plans.push({ zone, changes });
  }
  return plans;
}

export function pendingChanges(plans: ZonePlan[]): number {
  return plans.reduce((n, p) => n + p.changes.length, 0);
}

/** The plan as people read it: per zone, `-` for what goes, `+` for what comes. */
export function formatPlan(plans: ZonePlan[]): string {
  if (pendingChanges(plans) === 0) return `DNS is up to date: nothing to push (${plans.map((p) => p.zone).join(', ')}).\n`;
  const lines: string[] = [];
  for (const p of plans) {
    if (p.changes.length === 0) {
      lines.push(`zone ${p.zone}: up to date`);
      continue;
    }
    lines.push(`zone ${p.zone}: ${p.changes.length} change${p.changes.length === 1 ? '' : 's'}`);
    for (const c of p.changes) {
      const gone = c.replaceRRset ? c.before : c.remove.map((f) => f.value);
      const kept = c.replaceRRset ? [] : c.before.filter((v) => !gone.includes(v));
      lines.push(`  ${c.type} ${c.name}`);
      for (const v of kept) lines.push(`      ${v}`);
      for (const v of gone) lines.push(`    - ${v}`);
      for (const r of c.add) lines.push(`    + ${r.value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Sends each zone's update in turn; stops at the first refusal (earlier zones stay updated). */
export async function sendPlans(plans: ZonePlan[], server: Server, key: TsigKey, log: (line: string) => void): Promise<void> {
  for (const p of plans.filter((x) => x.changes.length > 0)) {
    await sendUpdate(server, p.zone, p.changes, key);
    log(`zone ${p.zone}: updated (${p.changes.length} change${p.changes.length === 1 ? '' : 's'})`);
  }
}
