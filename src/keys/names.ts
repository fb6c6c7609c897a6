// The names the server's certificate covers: the mail host and each domain's web names.

/** Mail host first, then mta-sts., autoconfig. and autodiscover. of every domain, without repeats. */
export function certificateNames(hostname: string, domains: string[]): string[] {
  const names = [hostname, ...domains.flatMap((d) => [`mta-sts.${d}`, `autoconfig.${d}`, `autodiscover.${d}`])];
  return [...new Set(names)];
}

