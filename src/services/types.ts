// What mailrig knows about one service, in one place: the packages it needs, the files it renders,
// and — for a daemon — how it is started, validated, reloaded and checked. The pipeline, the plan,
// apply and check read these descriptors; none keeps its own table per daemon.
import type { Config, Release, ServerRole } from '../config/model.js';
import type { RenderContext } from '../render/context.js';
import type { FileSpec } from '../render/types.js';
import type { TlsMode } from '../net/tls.js';

/** How TLS starts on a port: at once (465, 993, 443) or after STARTTLS in SMTP or IMAP. */
export type { TlsMode };

export type Init = 'systemd' | 'sysv';

/** What package selection may depend on: the release, and the host's init system once known. */
export interface HostKind {
  release: Release;
  init: Init;
}


export interface TlsPort {
  port: number;
  mode: TlsMode;
  /** Short name (smtp, submissions, imaps, https). */
  name: string;
  /** As the check report shows it. */
  label: string;
}

export interface DaemonSpec {
  /** The init script / systemd unit name on Debian (per release where the package name has a version). */
  unit: string | ((release: Release) => string);
  /**
   * The command name (comm) of its main process: the facts tell "running" by it (`pgrep -x`, so a
   * pattern where the name carries a version, e.g. php-fpm8.2).
   */
  mainProcess: string;
  /**
   * Shell command that validates the staged configuration (run with the staged files laid over the
   * live ones, see apply/scripts.ts validateScript); exit non-zero rejects the run.
   */
  validate: string;
  /** TCP ports it must listen on once it runs: the health probe after apply. */
  ports: (config: Config) => number[];
  /** Ports that serve the mail host's certificate, as a client probes them. */
  tlsPorts?: TlsPort[];
  /** Reads the shared TLS certificate and key: a new certificate reloads it. */
  consumesTls: boolean;
  /**
   * Shell lines around a reload: `before` runs first, `after` once the reload returned (rspamd waits
   * for its old workers, which keep the old configuration until they exit).
   */
  reload?: { before: string; after: string };
  /**
   * Shell apply runs before it starts or restarts the daemon on a host without systemd, where the
   * daemon's rendered systemd drop-in (which runs the same step before every start) has no effect.
   */
  beforeStartWithoutSystemd?: { message: string; script: string };
  /**
   * Where systemd is PID 1, the daemon runs on demand: systemd holds its listening socket (the socket
   * unit, enabled so that it is there after a boot), starts the daemon at the first connection, and
   * the daemon exits when idle. "Running" then means the socket unit is enabled and listening, and
   * `start` (run for a start, restart or reload) makes it so with the new files in effect.
   */
  onDemandWithSystemd?: { socket: string; start: string };
  /** Shell apply runs after it starts or restarts the daemon where systemd is PID 1. */
  afterStartWithSystemd?: { message: string; script: string };
}

/**
 * A scheduled job (systemd timer where systemd is PID 1, a cron entry elsewhere): the plan enables
 * the timer or makes sure cron runs while the files are rendered, and disables it when they go.
 */
export interface ScheduleSpec {
  /** systemd unit base name: <unit>.service and <unit>.timer. */
  unit: string;
}

/**
 * Data an optional service stores on the host (not files mailrig renders): kept when the config
 * switches the service off, deleted by `apply --purge` while it is off.
 */
export interface ServiceData {
  path: string;
  /** What it holds, as the plan names it. */
  what: string;
}

export interface ServiceDescriptor {
  /** The name files are tagged with (FileSpec.service) and the plan prints. */
  name: string;
  /**
   * An optional service says here whether the config turns it on (unset: always on). Off, it asks for no
   * packages, files or ports, and its daemon is stopped if it runs: it costs nothing.
   */
  enabled?: (config: Config) => boolean;
  /**
   * The roles of the hosts it runs on (unset: every host). Elsewhere it is not there at all: no
   * packages, files, ports or process (Dovecot on a backup MX).
   */
  roles?: readonly ServerRole[];
  /** Packages it needs on this kind of host (none when the config leaves it out). */
  packages: (config: Config, host: HostKind) => string[];
  /** Its files on the host; reload-vs-restart rules are per file (FileSpec.onChange, restartWhen). */
  render?: (ctx: RenderContext) => FileSpec[];
  daemon?: DaemonSpec;
  schedule?: ScheduleSpec;
  /** An optional service's stored data (see ServiceData). */
  data?: ServiceData[];
}
