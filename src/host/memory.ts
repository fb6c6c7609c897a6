// MemoryTransport: the in-memory twin of a host for unit tests of facts, plan and apply. Files
// live in a Map; exec answers from a script of rules and records every call, so a test can assert
// both the host's final state and what was run on it.
//
//   const host = new MemoryTransport({ files: { '/etc/os-release': 'ID=debian\n' } });
//   host.on(/^postfix check/, { code: 0 });
//   host.on('systemctl is-system-running', () => ({ stdout: 'offline\n', code: 1 }));
//   await apply(plan, host);
//   host.files.get('/etc/postfix/main.cf')?.mode;   // '0644'
//   host.commands();                                // every command run, in order
import { validateFile, TransportError, type ExecOptions, type ExecResult, type FileToPut, type Transport } from './transport.js';

export interface MemoryFile {
  content: Buffer;
  /** Four octal digits, e.g. "0640". */
  mode: string;
  owner: string;
  group: string;
}

export type ExecReply = Partial<ExecResult> | ((cmd: string, opts: ExecOptions, host: MemoryTransport) => Partial<ExecResult> | Promise<Partial<ExecResult>>);

export type InitialFile = Partial<Omit<MemoryFile, 'content'>> & { content: string | Buffer };

export interface MemoryTransportOptions {
  target?: string;
  /** Initial files: content only (mode 0644, root:root) or a full description. */
  files?: Record<string, string | Buffer | InitialFile>;
  /** What an exec no rule matches does: throw (default, so a test notices) or answer this. */
  fallback?: Partial<ExecResult>;
}

interface Rule {
  match: string | RegExp | ((cmd: string) => boolean);
  reply: ExecReply;
}

export class MemoryTransport implements Transport {
  readonly target: string;
  readonly files = new Map<string, MemoryFile>();
  /** Every exec, in order, with its options. */
  readonly execLog: { cmd: string; opts: ExecOptions }[] = [];
  /** Every put/putMany call, as the list of paths it wrote: one entry per round trip. */
  readonly putLog: string[][] = [];
  /** Called before each file is written; throw from it to simulate a failing upload. */
  beforePut: ((file: FileToPut) => void) | undefined;
  closed = false;
  private readonly rules: Rule[] = [];
  private readonly fallback: Partial<ExecResult> | undefined;

  constructor(opts: MemoryTransportOptions = {}) {
    this.target = opts.target ?? 'root@memory';
    this.fallback = opts.fallback;
    for (const [path, f] of Object.entries(opts.files ?? {})) {
      const spec: InitialFile = typeof f === 'string' || f instanceof Uint8Array ? { content: f } : f;
      this.files.set(path, {
        content: Buffer.from(spec.content),
        mode: normalizeMode(spec.mode ?? '0644'),
        owner: spec.owner ?? 'root',
        group: spec.group ?? 'root',
      });
    }
  }

  /**
   * Scripts exec: a command equal to a string, matching a RegExp or accepted by a predicate gets
   * the reply. Rules added later win, so a test can override a shared default.
   */
  on(match: Rule['match'], reply: ExecReply): this {
    this.rules.unshift({ match, reply });
    return this;
  }

  /** The commands run so far, in order. */
  commands(): string[] {
    return this.execLog.map((e) => e.cmd);
  }

  /** A file's content as text (undefined if absent): for assertions. */
  text(path: string): string | undefined {
    return this.files.get(path)?.content.toString('utf8');
  }

  async exec(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.assertOpen();
    this.execLog.push({ cmd, opts });
    const rule = this.rules.find((r) => matches(r.match, cmd));
    if (!rule) {
      if (this.fallback) return complete(this.fallback);
      throw new Error(`MemoryTransport: no scripted reply for command: ${cmd}`);
    }
    const reply = typeof rule.reply === 'function' ? await rule.reply(cmd, opts, this) : rule.reply;
    return complete(reply);
  }

  async put(path: string, content: string | Buffer, mode: string, owner?: string, group?: string): Promise<void> {
    await this.putMany([{ path, content, mode, ...(owner ? { owner } : {}), ...(group ? { group } : {}) }]);
  }

  async putMany(files: readonly FileToPut[]): Promise<void> {
    this.assertOpen();
    this.putLog.push(files.map((f) => f.path));
    for (const f of files) {
      validateFile(f);
      this.beforePut?.(f);
      this.files.set(f.path, {
        content: Buffer.from(f.content),
        mode: normalizeMode(f.mode),
        owner: f.owner ?? 'root',
        group: f.group ?? 'root',
      });
    }
  }

  async get(path: string): Promise<Buffer | undefined> {
    this.assertOpen();
    const f = this.files.get(path);
    return f ? Buffer.from(f.content) : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new TransportError(`the connection to ${this.target} was closed`);
  }
}

function matches(match: Rule['match'], cmd: string): boolean {
  if (typeof match === 'string') return match === cmd;
  if (match instanceof RegExp) return match.test(cmd);
  return match(cmd);
}

function complete(r: Partial<ExecResult>): ExecResult {
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', code: r.code ?? 0 };
}

function normalizeMode(mode: string): string {
  return mode.padStart(4, '0');
}
