// Where certificates come from (tls.acme) and what the CA allows: its directory URL, whether its terms
// need the operator's explicit consent, and how many names one certificate may carry.

export const LETSENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETSENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

/** The ACME directory URL of tls.acme, or undefined for self-signed (no ACME at all). */
export function directoryUrl(acme: string): string | undefined {
  if (acme === 'self-signed') return undefined;
  if (acme === 'letsencrypt') return LETSENCRYPT;
  if (acme === 'letsencrypt-staging') return LETSENCRYPT_STAGING;
  return acme;
}

/**
 * Let's Encrypt's subscriber agreement binds the operator, so it is accepted only by a flag or an
 * answer. A directory URL of the operator's own choosing (a company's step-ca, Pebble in tests) is
 * taken as consent to that CA's terms: the operator runs or picked it.
 */
export function termsNeedConsent(acme: string): boolean {
  return acme === 'letsencrypt' || acme === 'letsencrypt-staging';
}

/** Names per certificate: Let's Encrypt allows 100, and so does Pebble; other CAs are assumed alike. */
export function nameLimit(_acme: string): number {
  return 100;
}

/**
 * The names split into certificates of at most `limit` names each. The first keeps the mail host name
 * (names[0]): it is the certificate Postfix, Dovecot and nginx's default server present.
 */
export function splitNames(names: string[], limit: number): string[][] {
  if (limit < 1) throw new Error(`name limit ${limit}: must be at least 1`);
  const unique = [...new Set(names.map((n) => n.toLowerCase()))];
  const chunks: string[][] = [];
  for (let i = 0; i < unique.length; i += limit) chunks.push(unique.slice(i, i + limit));
  return chunks;
}

/** Whether tls.acme asks for certificates from a CA at all (not self-signed). */
export function acmeEnabled(config: { tls: { acme: string } }): boolean {
  return directoryUrl(config.tls.acme) !== undefined;
}
