// The setup interview as data: each question with its validation and a default guessed from earlier
// answers. Pure: the runner (inquirer, or flags for --non-interactive) asks them.
import { RELEASES } from '../config/schema.js';
import { isDomainName, isEmailAddress, isFqdn, isIPv4, isIPv6, serverAddressProblem, sshTargetProblem, toAsciiDomain } from '../config/syntax.js';
import type { InitialConfig } from '../config/write.js';
import { passwordWeakness } from '../keys/password.js';

/** The config's first settings as asked, with the first mailbox and its password in clear. */
export interface Answers extends Omit<InitialConfig, 'mailbox'> {
  mailbox: string;
  password: string;
}

/** A validator returns undefined when the value is fine, else the reason (shown, then asked again). */
export type Validate = (value: string, answers: Partial<Answers>) => string | undefined;

export interface Question {
  name: keyof Answers;
  /** The --flag that answers it in --non-interactive mode. */
  flag: string;
  message: string;
  kind: 'text' | 'list' | 'password' | 'choice';
  choices?: Array<{ value: string; label: string }>;
  optional?: boolean;
  defaultFrom?: (answers: Partial<Answers>) => string | undefined;
  validate: Validate;
}

const firstDomain = (a: Partial<Answers>) => toAsciiDomain(a.domains?.[0] ?? '') ;

export function parseList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export const ACME_CHOICES = [
  { value: 'letsencrypt', label: "Let's Encrypt" },
  { value: 'letsencrypt-staging', label: "Let's Encrypt staging (test certificates, not trusted)" },
  { value: 'self-signed', label: 'Self-signed only (no ACME)' },
  { value: 'custom', label: 'Another ACME server (directory URL)' },
];

export function validateAcme(value: string): string | undefined {
  if (['letsencrypt', 'letsencrypt-staging', 'self-signed'].includes(value)) return undefined;
  return /^https:\/\/\S+$/.test(value)
    ? undefined
    : 'must be letsencrypt, letsencrypt-staging, self-signed or an https:// ACME directory URL';
}

export const validateSsh = sshTargetProblem;

export const QUESTIONS: Question[] = [
  {
    name: 'domains',
    flag: '--domain',
    message: 'Mail domain(s), comma-separated',
    kind: 'list',
    validate: (v) => {
      const list = parseList(v);
      if (list.length === 0) return 'give at least one domain, e.g. example.com';
      const bad = list.find((d) => !isDomainName(d));
      return bad ? `"${bad}" is not a domain name` : undefined;
    },
  },
  {
    name: 'hostname',
    flag: '--hostname',
    message: 'Mail server hostname (the MX target; its PTR must point here)',
    kind: 'text',
    defaultFrom: (a) => (firstDomain(a) ? `mail.${firstDomain(a)}` : undefined),
    validate: (v) => (isFqdn(v) ? undefined : 'must be a fully qualified domain name, e.g. mail.example.com'),
  },
  {
    name: 'ipv4',
    flag: '--ipv4',
    message: "Server's public IPv4 address",
    kind: 'text',
    validate: (v, a) => (isIPv4(v) ? serverAddressProblem(v, a.allowPrivateAddresses === true) : 'must be an IPv4 address, e.g. 203.0.113.10'),
  },
  {
    name: 'ipv6',
    flag: '--ipv6',
    message: "Server's public IPv6 address (empty for none)",
    kind: 'text',
    optional: true,
    validate: (v, a) =>
      v === '' ? undefined : isIPv6(v) ? serverAddressProblem(v, a.allowPrivateAddresses === true) : 'must be an IPv6 address, e.g. 2001:db8::10, or empty',
  },
  {
    name: 'ssh',
    flag: '--ssh',
    message: 'How to reach it: user@host[:port], a Host alias from ~/.ssh/config, or "local"',
    kind: 'text',
    defaultFrom: (a) => (a.ipv4 ? `root@${a.ipv4}` : undefined),
    validate: validateSsh,
  },
  {
    name: 'release',
    flag: '--release',
    message: 'Target release',
    kind: 'choice',
    choices: [
      { value: 'debian-12', label: 'Debian 12 (bookworm)' },
      { value: 'debian-13', label: 'Debian 13 (trixie)' },
    ],
    defaultFrom: () => 'debian-12',
    validate: (v) => ((RELEASES as readonly string[]).includes(v) ? undefined : `must be one of ${RELEASES.join(', ')}`),
  },
  {
    name: 'adminEmail',
    flag: '--admin-email',
    message: 'Admin email (ACME account, DMARC and TLS reports)',
    kind: 'text',
    defaultFrom: (a) => (firstDomain(a) ? `postmaster@${firstDomain(a)}` : undefined),
    validate: (v) => (isEmailAddress(v) ? undefined : 'must be an email address, e.g. admin@example.com'),
  },
  {
    name: 'mailbox',
    flag: '--mailbox',
    message: 'First mailbox (full address)',
    kind: 'text',
    validate: (v, a) => {
      if (!isEmailAddress(v)) return 'must be an email address, e.g. alice@example.com';
      const domain = toAsciiDomain(v.slice(v.lastIndexOf('@') + 1));
      const ours = (a.domains ?? []).map((d) => toAsciiDomain(d));
      if (v.slice(0, v.lastIndexOf('@')).includes('+')) return 'must not contain "+" (it is kept for plus-addressing)';
      return ours.includes(domain) ? undefined : `must be in one of the mail domains (${(a.domains ?? []).join(', ')})`;
    },
  },
  {
    name: 'password',
    flag: '--password-stdin',
    message: 'Password for the first mailbox',
    kind: 'password',
    validate: (v) => {
      const weak = passwordWeakness(v);
      return weak ? `the password ${weak}` : undefined;
    },
  },
  {
    name: 'acme',
    flag: '--acme',
    message: 'Where TLS certificates come from',
    kind: 'choice',
    choices: ACME_CHOICES,
    defaultFrom: () => 'letsencrypt',
    validate: (v) => (v === 'custom' ? undefined : validateAcme(v)),
  },
];
