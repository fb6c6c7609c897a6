// The agent's files on the host: its bundle, its root-only configuration and the ACME account key, and
// a daily schedule — a systemd timer where systemd is PID 1, a cron entry elsewhere. They are files of
// the plan like any other (pipeline/acme.ts); the plan enables the timer or makes cron run.
import { createHash } from 'node:crypto';
import { ACCOUNT_KEY, AGENT_CONFIG, AGENT_LOG, AGENT_SCRIPT, NODE, type AgentConfig } from './config.js';

export interface AgentFile {
  path: string;
  content: string;
  mode: string;
}

const TIMER = '/etc/systemd/system/mailrig-agent.timer';
const SERVICE = '/etc/systemd/system/mailrig-agent.service';
const CRON = '/etc/cron.d/mailrig-agent';

/** Every path the agent may have on a host, whatever its init system. */
export const AGENT_PATHS = [AGENT_SCRIPT, AGENT_CONFIG, ACCOUNT_KEY, SERVICE, TIMER, CRON];

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
