// The ports mailrig serves TLS on, as `mailrig check` probes them, and how TLS starts on each: read
// from the service descriptors, named as the report shows them.
import { TLS_PORTS as SERVICE_TLS_PORTS, type TlsMode } from '../../services/index.js';

export const TLS_PORTS: Array<{ port: number; mode: TlsMode; service: string }> = SERVICE_TLS_PORTS.map((p) => ({
  port: p.port,
  mode: p.mode,
  service: p.label,
}));
