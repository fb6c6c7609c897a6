// The certificate chain and key every TLS service reads (Postfix, Dovecot, nginx). Rendered from the
// key store's current key and its self-signed certificate, which is what a host without ACME (tls.acme:
// self-signed) serves for good. With ACME on, apply swaps the rendered certificate for the one the host
// should serve before planning (tls/provision.ts adoptServedCertificate: the newer of the host's copy —
// the agent may have renewed it — and .mailrig/tls/acme.crt, if it is a CA-issued certificate for the
// current key that has not expired), so a valid certificate is never replaced by the self-signed one;
// the key stays the same across renewals, so the DANE TLSA record stays valid.
import type { RenderContext } from './context.js';
import { filesOf, type FileSpec } from './types.js';

export const TLS_DIR = '/etc/mailrig/tls';
export const TLS_CERT = `${TLS_DIR}/fullchain.pem`;
export const TLS_KEY = `${TLS_DIR}/privkey.pem`;

export function renderTls(ctx: RenderContext): FileSpec[] {
  const file = filesOf('mailrig', { onChange: 'reload' });
  return [
    file(TLS_CERT, hostCertificate(ctx)),
    // Root-only: every daemon reads its key as root before dropping privileges.
    file(TLS_KEY, ctx.keys.tls.current.privatePem, { mode: '0600', secret: true }),
  ];
}

/** The primary's certificate, or the one the key store made for this host's own name. */
function hostCertificate(ctx: RenderContext): string {
  if (ctx.config.server.role === 'primary') return ctx.keys.tls.selfSignedCertPem;
  const pem = ctx.keys.hostCertPems?.[ctx.config.server.hostname];
  if (pem === undefined) throw new Error(`render: no certificate for ${ctx.config.server.hostname} in the key store`);
  return pem;
}

/** Mozilla's "intermediate" server profile (guideline 6.0): TLS 1.2 ciphers and key exchange groups. */
export const MOZILLA_INTERMEDIATE = {
  protocols: ['TLSv1.2', 'TLSv1.3'],
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ],
  curves: ['X25519', 'prime256v1', 'secp384r1'],
} as const;
