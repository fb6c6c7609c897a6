// Entry point of the mailrig agent on the host, bundled with its dependencies into one file
// (/usr/local/lib/mailrig/agent.cjs) that runs on the release's own Node.js (18 on Debian 12, 20 on 13).
//
//   node agent.cjs [--config /etc/mailrig/agent.json] [--force]
//
// Run daily by a systemd timer (or cron); `mailrig cert renew` runs it over SSH. Exit 0 when the
// certificate is fine or was renewed, 1 when renewal failed (the working certificate stays).
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseTsigKeyFile } from '../dns/tsig.js';
import { parseServer } from '../dns/wire.js';
import { acmeClient, issueCertificates, type ChallengeResponder } from '../tls/acme.js';
import { dnsResponder, httpResponder } from '../tls/challenges.js';
import { AGENT_CONFIG, parseAgentConfig, type AgentConfig } from './config.js';
import { runAgent, type AgentDeps } from './run.js';

function readFile(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

function writeFile(path: string, content: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.mailrig-tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}

function responderFor(cfg: AgentConfig): ChallengeResponder {
  const d = cfg.dns01;
  if (d) {
    const server = parseServer(d.server);
    if (!server) throw new Error(`dns01.server ${d.server}: not IP[:port]`);
    return dnsResponder({
      server,
      key: parseTsigKeyFile(d.secret, d.keyName, 'agent.json'),
      zoneOf: (name) => d.zones[name] ?? name,
      ttl: d.ttl,
    });
  }
  return httpResponder(cfg.webroot, {
    write: async (path, content) => writeFile(path, content, 0o644),
    remove: async (path) => rmSync(path, { force: true }),
  });
}

function reloadCommand(init: AgentConfig['init'], unit: string): [string, string[]] {
  return init === 'systemd' ? ['systemctl', ['reload', unit]] : ['service', [unit, 'reload']];
}

async function main(argv: string[]): Promise<number> {
  const force = argv.includes('--force');
  const at = argv.indexOf('--config');
  const file = at >= 0 ? (argv[at + 1] ?? AGENT_CONFIG) : AGENT_CONFIG;
  let cfg: AgentConfig;
  try {
    cfg = parseAgentConfig(readFileSync(file, 'utf8'), file);
  } catch (e) {
    process.stderr.write(`mailrig-agent: ${(e as Error).message}\n`);
    return 1;
  }
  const log = (line: string) => {
    const text = `${new Date().toISOString()} mailrig-agent: ${line}\n`;
    process.stdout.write(text);
    try {
      appendFileSync(cfg.logFile, text, { mode: 0o640 });
    } catch {
      // The log is a convenience; renewal must not fail because /var/log is full.
    }
  };
  const deps: AgentDeps = {
    readFile,
    writeFile,
    now: () => new Date(),
    responder: responderFor(cfg),
    issue: ({ names, keyPem, responder }) =>
      issueCertificates({
        client: acmeClient({ directoryUrl: cfg.directoryUrl, accountKeyPem: readFileSync(cfg.accountKeyFile, 'utf8'), caBundlePem: cfg.caBundlePem }),
        email: cfg.email,
        keyPem,
        names,
        limit: cfg.limit,
        responder,
        log,
      }),
    async reload(units) {
      const failed: string[] = [];
      for (const unit of units) {
        const [cmd, args] = reloadCommand(cfg.init, unit);
        // No inherited streams: a service script must not hold the caller's (cron's, SSH's) output open.
        const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 60_000 });
        if (r.status !== 0) failed.push(unit);
      }
      return failed;
    },
    log,
  };
  try {
    const outcome = await runAgent(cfg, deps, { force });
    return outcome.result === 'failed' ? 1 : 0;
  } catch (e) {
    log(`FAILED: unexpected error: ${(e as Error).stack ?? String(e)}`);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
