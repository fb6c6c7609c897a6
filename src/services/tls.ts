// The mail host's TLS key and certificate, shared by every daemon whose descriptor consumes TLS
// (files tagged 'mailrig': a change reloads each of them).
import { renderTls } from '../render/tls.js';
import type { ServiceDescriptor } from './types.js';

export const tls: ServiceDescriptor = {
  name: 'mailrig',
  packages: () => ['ca-certificates', 'openssl'],
  render: renderTls,
};
