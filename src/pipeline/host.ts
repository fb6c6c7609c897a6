// The connection a run works over: SSH to `user@host[:port]` or an ssh config alias, or "local".
import type { HostKeyQuestion } from '../host/knownhosts.js';
import type { Transport } from '../host/transport.js';

export interface HostOptions {
  config: string;
  /** Accept an unknown host key without asking (it is then recorded in known_hosts). */
  acceptNewHostKey?: boolean;
  /** Private key to log in with, before the ssh config's and the defaults. */
  identity?: string;
  /** known_hosts file to check and record host keys in (default: the ssh config's, else ~/.ssh/known_hosts). */
  knownHosts?: string;
}

/** Asks the operator a yes/no question (the CLI's prompt); absent: every question is answered no. */
export type Confirm = (question: string) => Promise<boolean>;

export async function openTarget(target: string, opts: Omit<HostOptions, 'config'>, confirm?: Confirm): Promise<Transport> {
  if (target === 'local') {
    const { LocalTransport } = await import('../host/local.js');
    return LocalTransport.open();
  }
  const { connectSsh } = await import('../host/ssh.js');
  return connectSsh({
    target,
    ...(opts.identity ? { identityFiles: [opts.identity] } : {}),
    ...(opts.knownHosts ? { knownHostsFile: opts.knownHosts } : {}),
    confirmHostKey: async (q: HostKeyQuestion) => {
      if (opts.acceptNewHostKey) return true;
      if (!process.stdin.isTTY || !confirm) return false;
      return confirm(`${q.host} is not in known_hosts; its ${q.keyType} key is ${q.fingerprint}. Trust it?`);
    },
  });
}
