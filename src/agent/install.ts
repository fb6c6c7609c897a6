// Installing the agent on the host: its bundle, its root-only configuration and the ACME account key,
// and a daily schedule — a systemd timer where systemd is PID 1, a cron entry elsewhere. Like apply,
// it compares first and writes only what differs.
import { createHash } from 'node:crypto';
import { quoteAll } from '../host/shell.js';
import type { Transport } from '../host/transport.js';
import { ACCOUNT_KEY, AGENT_CONFIG, AGENT_LOG, AGENT_SCRIPT, NODE, type AgentConfig } from './config.js';

export interface AgentFile {
  path: string;
  content: string;
  mode: string;
}

const TIMER = '/etc/systemd/system/mailrig-agent.timer';
const SERVICE = '/etc/systemd/system/mailrig-agent.service';
const CRON = '/etc/cron.d/mailrig-agent';

/** A minute and hour of the day derived from the host name: hosts spread over the day, each stable. */
export function dailySlot(hostname: string): { minute: number; hour: number } {
  const h = createHash('sha256').update(hostname).digest();
  return { minute: (h[0] ?? 0) % 60, hour: (h[1] ?? 0) % 24 };
}

export function scheduleFiles(init: AgentConfig['init'], hostname: string): AgentFile[] {
  const command = `${NODE} ${AGENT_SCRIPT} --config ${AGENT_CONFIG}`;
  if (init === 'systemd') {
    return [
      {
        path: SERVICE,
        mode: '0644',
        content: `# Rendered by mailrig: renews the TLS certificate when a third of its lifetime is left.
[Unit]
Description=mailrig agent: TLS certificate renewal
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${command}
`,
      },
      {
        path: TIMER,
        mode: '0644',
        content: `# Rendered by mailrig: once a day, at a random time so that CAs see no rush at midnight.
[Unit]
Description=Daily mailrig agent run

[Timer]
OnCalendar=daily
RandomizedDelaySec=12h
Persistent=true

[Install]
WantedBy=timers.target
`,
      },
    ];
  }
  const { minute, hour } = dailySlot(hostname);
  return [
    {
      path: CRON,
      mode: '0644',
      content: `# Rendered by mailrig: renews the TLS certificate when a third of its lifetime is left (no systemd here).
# The agent logs each run to ${AGENT_LOG}.
${minute} ${hour} * * * root ${command} >/dev/null 2>>${AGENT_LOG}
`,
    },
  ];
}

export function agentFiles(bundle: string, config: AgentConfig, accountKeyPem: string, hostname: string): AgentFile[] {
  return [
    { path: AGENT_SCRIPT, content: bundle, mode: '0644' },
    // Root-only: the CA bundle is public, but a DNS-01 setup puts the TSIG secret in here.
    { path: AGENT_CONFIG, content: `${JSON.stringify(config, null, 2)}\n`, mode: '0600' },
    { path: ACCOUNT_KEY, content: accountKeyPem, mode: '0600' },
    ...scheduleFiles(config.init, hostname),
  ];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Writes the files whose content or mode differs; activates the schedule. Returns the paths written. */
export async function installAgent(host: Transport, files: AgentFile[], init: AgentConfig['init']): Promise<string[]> {
  const paths = files.map((f) => f.path);
  const r = await host.exec(`for f in ${quoteAll(paths)}; do [ -f "$f" ] && printf '%s %s %s\\n' "$(stat -c %a "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)" "$f"; done; true`, { sudo: true });
  const have = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [mode, hash, path] = line.split(' ');
    if (mode && hash && path) have.set(path, `${mode.padStart(4, '0')} ${hash}`);
  }
  const changed = files.filter((f) => have.get(f.path) !== `${f.mode} ${sha256(f.content)}`);
  if (changed.length) {
    await host.putMany(changed.map((f) => ({ path: f.path, content: f.content, mode: f.mode, owner: 'root', group: 'root' })));
  }
  const schedule = init === 'systemd'
    ? (changed.some((f) => f.path === TIMER || f.path === SERVICE) ? 'systemctl daemon-reload && systemctl enable --now mailrig-agent.timer' : 'true')
    // cron reads /etc/cron.d by itself; it only has to run (a package install under policy-rc.d did not start it).
    : 'pgrep -x cron >/dev/null || service cron start';
  const s = await host.exec(schedule, { sudo: true, detachStreams: true });
  if (s.code !== 0) throw new Error(`activating the agent's schedule failed: ${s.stderr.trim()}`);
  return changed.map((f) => f.path);
}
