// The ports mailrig serves TLS on, as `mailrig check` probes them, and how TLS starts on each.
import type { TlsMode } from '../../net/tls.js';

export const TLS_PORTS: Array<{ port: number; mode: TlsMode; service: string }> = [
  { port: 25, mode: 'smtp', service: 'SMTP' },
  { port: 465, mode: 'implicit', service: 'submission (TLS)' },
  { port: 587, mode: 'smtp', service: 'submission (STARTTLS)' },
  { port: 993, mode: 'implicit', service: 'IMAPS' },
  { port: 443, mode: 'implicit', service: 'HTTPS' },
];
