// SshTransport: one ssh2 connection for the whole run. Every command is an exec channel on it, and
// files travel as a shell script on a channel's stdin (see putScript), so uploading a staging tree
// costs one round trip, not one session per file. Host keys are checked against known_hosts
// (knownhosts.ts); targets may be ~/.ssh/config aliases (sshconfig.ts).
import { existsSync, readFileSync } from 'node:fs';
import { constants, homedir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, ClientChannel, ConnectConfig } from 'ssh2';
import { algorithmsForKeyType, knownHostsName, knownKeyTypes, parseKnownHosts, verifyHostKey, type ConfirmHostKey } from './knownhosts.js';
import { readSshConfig, resolveSshHost } from './sshconfig.js';
import { hostKeyLine } from './hostkey.js';
import { ShellTransport, TransportError, formatTarget, parseTarget, type RawResult } from './transport.js';

const { Client, utils } = ssh2;

export interface SshTransportOptions {
  /** `user@host[:port]` or a Host alias from the ssh config. User defaults to the config's, then root. */
  target: string;
  /** Private keys to try first (e.g. --identity, or a test host's key). */
  identityFiles?: string[];
  /** Default: the config's UserKnownHostsFile, else ~/.ssh/known_hosts. */
  knownHostsFile?: string;
  /** Default ~/.ssh/config; false ignores any config. */
  sshConfigFile?: string | false;
  /** ssh-agent socket; default $SSH_AUTH_SOCK; false disables the agent. */
  agentSocket?: string | false;
  /** Asked about unknown host keys (the CLI prompts, or --accept-new-host-key says yes). */
  confirmHostKey?: ConfirmHostKey;
  /** Run every command through sudo -n. Default: when the login user is not root. */
  useSudo?: boolean;
  /** Default 20 000. */
  readyTimeoutMs?: number;
  /** Home directory for ~ (tests). */
  home?: string;
}

/** ssh2's default host key algorithms, in its order. */
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
  'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** OpenSSH allows 10 sessions per connection (MaxSessions); stay below it. */
const MAX_CHANNELS = 8;

export async function connectSsh(opts: SshTransportOptions): Promise<SshTransport> {
  const home = opts.home ?? homedir();
  const target = parseTarget(opts.target);
  const configFile = opts.sshConfigFile === false ? undefined : (opts.sshConfigFile ?? join(home, '.ssh', 'config'));
  const config = resolveSshHost(configFile ? readSshConfig(configFile, { home }) : [], target.host, { home });
  const host = config.hostName;
  const port = target.port ?? config.port ?? 22;
  const user = target.user ?? config.user ?? 'root';
  const knownHostsFile = opts.knownHostsFile ?? config.userKnownHostsFiles[0] ?? join(home, '.ssh', 'known_hosts');
  const explicitKeys = [...(opts.identityFiles ?? []), ...config.identityFiles];
  const defaultKeys = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(home, '.ssh', f));
  const keyFiles = config.identitiesOnly && explicitKeys.length > 0 ? explicitKeys : [...explicitKeys, ...defaultKeys];
  const agent = config.identitiesOnly || opts.agentSocket === false ? undefined : (opts.agentSocket ?? process.env.SSH_AUTH_SOCK);
  const auth = authMethods(user, keyFiles, agent, explicitKeys);
  const label = formatTarget(user, host, port);
  if (auth.methods.length === 0) {
    throw new TransportError(`no SSH key to log in to ${label}: no ssh-agent and no usable key file`, auth.notes.join('\n'));
  }

  const client = new Client();
  let hostKeyError: Error | undefined;
  let offered: Buffer | undefined;
  const known = knownKeyTypes(parseKnownHosts(readIfExists(knownHostsFile)), knownHostsName(host, port));
  const connectConfig: ConnectConfig = {
    host, port, username: user,
    authHandler: auth.methods,
    readyTimeout: opts.readyTimeoutMs ?? 20_000,
    keepaliveInterval: 15_000,
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      offered = key;
      const policy = { knownHostsFile, ...(opts.confirmHostKey ? { confirmHostKey: opts.confirmHostKey } : {}) };
      verifyHostKey(policy, host, port, key).then(
        () => verify(true),
        (err: Error) => { hostKeyError = err; verify(false); },
      );
    },
  };
  // Like OpenSSH: ask for a key type known_hosts already has, so a host with several keys is not
  // mistaken for a changed one.
  if (known.length > 0) {
    const preferred = known.flatMap(algorithmsForKeyType);
    connectConfig.algorithms = { serverHostKey: [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])] as never };
  }
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', (err: Error & { level?: string }) => {
      client.end();
      if (hostKeyError) reject(hostKeyError);
      else if (err.level === 'client-authentication') {
        reject(new TransportError(`${label} refused every key offered (${auth.tried.join(', ')})`, auth.notes.join('\n') || undefined));
      } else reject(new TransportError(`cannot connect to ${label}: ${err.message}`));
    });
    client.connect(connectConfig);
  });
  const transport = new SshTransport(client, label, user, host, opts.useSudo ?? user !== 'root', offered && hostKeyLine(offered));
  if (transport.useSudo) await transport.checkSudo();
  return transport;
}

function authMethods(user: string, keyFiles: string[], agent: string | undefined, explicit: string[]) {
  const methods: AnyAuthMethod[] = [];
  const tried: string[] = [];
  const notes: string[] = [];
  const keys = keyFiles.map((file) => ({ file, key: loadKey(file, explicit.includes(file), notes) }));
  for (const { file, key } of keys.filter((k) => explicit.includes(k.file))) {
    if (key) { methods.push({ type: 'publickey', username: user, key }); tried.push(file); }
  }
  if (agent) { methods.push({ type: 'agent', username: user, agent }); tried.push('ssh-agent'); }
  for (const { file, key } of keys.filter((k) => !explicit.includes(k.file))) {
    if (key) { methods.push({ type: 'publickey', username: user, key }); tried.push(file); }
  }
  return { methods, tried, notes };
}

function loadKey(file: string, explicit: boolean, notes: string[]): Buffer | undefined {
  if (!existsSync(file)) {
    if (explicit) notes.push(`identity file ${file} does not exist`);
    return undefined;
  }
  const data = readFileSync(file);
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error) {
    notes.push(`${file}: ${parsed.message} (load it into ssh-agent instead)`);
    return undefined;
  }
  return data;
}

function readIfExists(file: string): string {
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

export class SshTransport extends ShellTransport {
  private closed: Error | undefined;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly client: InstanceType<typeof Client>,
    target: string,
    user: string,
    host: string,
    useSudo: boolean,
    readonly hostKey: string | undefined = undefined,
  ) {
    super(target, user, host, useSudo);
    client.on('close', () => { this.closed ??= new TransportError(`the SSH connection to ${target} was closed`); });
    client.on('error', (err: Error) => { this.closed ??= new TransportError(`the SSH connection to ${target} failed: ${err.message}`); });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      this.client.once('close', () => resolve());
      this.client.end();
    });
  }

  protected runRaw(command: string, stdin: string | Buffer | undefined, timeoutMs: number | undefined, shown: string): Promise<RawResult> {
    return this.withChannel(() => this.runChannel(command, stdin, timeoutMs, shown));
  }

  private async withChannel<T>(work: () => Promise<T>): Promise<T> {
    while (this.active >= MAX_CHANNELS) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }

  private runChannel(command: string, stdin: string | Buffer | undefined, timeoutMs: number | undefined, shown: string): Promise<RawResult> {
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream: ClientChannel) => {
        if (err) return reject(new TransportError(`cannot run a command on ${this.target}: ${err.message}`));
        const out: Buffer[] = [];
        const errs: Buffer[] = [];
        let code = -1;
        let timer: NodeJS.Timeout | undefined;
        let done = false;
        const onLost = () => finish(this.closed ?? new TransportError(`the SSH connection to ${this.target} was lost`));
        const finish = (failure?: Error) => {
          if (done) return;
          done = true;
          if (timer) clearTimeout(timer);
          this.client.off('close', onLost);
          if (failure) reject(failure);
          else resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(errs), code });
        };
        this.client.once('close', onLost);
        if (timeoutMs !== undefined) {
          timer = setTimeout(() => {
            stream.close();
            finish(new TransportError(
              `command timed out after ${Math.round(timeoutMs / 1000)} s on ${this.target}: ${shown.slice(0, 200)}`,
              'a daemon started by the command may hold its output open: use detachStreams for commands that start services',
            ));
          }, timeoutMs);
        }
        stream.on('data', (d: Buffer) => out.push(d));
        stream.stderr.on('data', (d: Buffer) => errs.push(d));
        stream.on('exit', (status: number | null, signal?: string) => {
          code = status ?? 128 + (signal ? (constants.signals[`SIG${signal}` as keyof typeof constants.signals] ?? 0) : 0);
        });
        stream.on('close', () => finish());
        stream.end(stdin ?? '');
      });
    });
  }
}
