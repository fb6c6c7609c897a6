// What rendering produces: the files mailrig manages on the host, and what a change to each requires.
/**
 * The service a file belongs to: a service descriptor's name (src/services/), or 'mailrig' for the
 * shared TLS certificate and key.
 */
export type Service = string;

/**
 * What a change to a file requires on the host. `postmap` and `postalias` rebuild a map from this
 * source file (then Postfix picks it up by itself); `reload` and `restart` act on the file's service.
 * Service 'mailrig' (the shared TLS certificate and key): `reload` means reload every TLS consumer.
 */
export type OnChange = 'reload' | 'restart' | 'postmap' | 'postalias' | 'none';

export interface FileSpec {
  /** Absolute path on the host, e.g. /etc/postfix/main.cf. */
  path: string;
  content: string;
  /** Octal mode as a string, e.g. "0640". */
  mode: string;
  owner: string;
  group: string;
  service: Service;
  onChange: OnChange;
  /**
   * Settings (`name = value` lines) whose change needs a restart although `onChange` says reload —
   * e.g. Postfix's inet_protocols. When the previous content is unknown, a change restarts.
   */
  restartWhen?: string[];
  /** Whether the file holds a secret (private key, password hashes): never shown in diffs or logs. */
  secret: boolean;
}

/** One entry of mailrig-manifest.json: a FileSpec without its content. */
export type ManifestEntry = Omit<FileSpec, 'content'> & { sha256: string };

/**
 * A maker of one service's files: root-owned, mode 0644, not secret and needing nothing on change,
 * unless the service's `defaults` or one file's `extra` say otherwise.
 */
export function filesOf(service: Service, defaults: Partial<Omit<FileSpec, 'path' | 'content' | 'service'>> = {}) {
  return (path: string, content: string, extra: Partial<FileSpec> = {}): FileSpec => ({
    path,
    content,
    mode: '0644',
    owner: 'root',
    group: 'root',
    service,
    onChange: 'none',
    secret: false,
    ...defaults,
    ...extra,
  });
}
