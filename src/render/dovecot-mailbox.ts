// What each mailbox gets beside its passwd-file line: its vacation script (Sieve's vacation
// extension, run before the user's own scripts) and the quota warning messages.
import type { Config, Mailbox } from '../config/model.js';

/** A Sieve quoted string: backslash and double quote escaped; newlines may stand as they are. */
export function sieveString(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The vacation script of one mailbox. Pigeonhole's vacation already skips list, bulk and
 * auto-submitted mail and remembers whom it answered (`:days`); the explicit test states that
 * policy where an admin reads it, and also covers the `List-Unsubscribe` header.
 */
export function vacationScript(m: Mailbox): string {
  const head = `# Managed by mailrig from mailrig.yaml (vacation of ${m.address}): edit that file, not this one.\n`;
  const v = m.vacation;
  if (v === undefined) return `${head}# No automatic reply is set for this mailbox.\n`;
  const args = [
    `:days ${v.days}`,
    `:subject ${sieveString(v.subject)}`,
    ...(v.from === undefined ? [] : [`:from ${sieveString(v.from)}`]),
    ...(m.aliases.length ? [`:addresses [${m.aliases.map(sieveString).join(', ')}]`] : []),
  ];
  const conditions = [
    [
      'not anyof (exists "list-id",',
      '                     exists "list-unsubscribe",',
      '                     header :contains "precedence" ["bulk", "list", "junk"],',
      '                     allof (exists "auto-submitted", not header :is "auto-submitted" "no"))',
    ].join('\n'),
    ...(v.until === undefined ? [] : [`currentdate :value "le" "date" ${sieveString(v.until)}`]),
  ];
  // No `stop` anywhere: a before-script that stops would also skip the user's own scripts.
  return [
    head,
    `require ["vacation"${v.until === undefined ? '' : ', "date", "relational"'}];\n`,
    '\n',
    '# Never answer mailing lists, bulk mail or automatic messages (bounces, other auto-replies)',
    v.until === undefined ? '.\n' : `;\n# reply until ${v.until} (inclusive, the server's date).\n`,
    `if allof (${conditions.join(',\n          ')}) {\n`,
    `  vacation ${args.join(' ')}\n`,
    `    ${sieveString(v.body)};\n`,
    '}\n',
  ].join('');
}

/** RFC 2047 needs no encoding for printable ASCII. */
const isPlainAscii = (s: string) => /^[\x20-\x7e]*$/.test(s);

/** A shell word in single quotes. */
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The quota-warning script Dovecot's quota-warning service runs as vmail with the percentage and the
 * address. It stores the warning with the LDA, quota not enforced, so it arrives even at 95%.
 * `noEnforce` is the release's LDA option that turns enforcement off.
 */
export function quotaWarningScript(config: Config, lda: string, noEnforce: string): string {
  const { subject, body } = config.mail.quotaWarning;
  const text = (t: string, percent: number) => t.replaceAll('{percent}', String(percent));
  const branch = (percent: number) =>
    `  ${percent})\n    subject=${shq(text(subject, percent))}\n    body=${shq(text(body, percent).replace(/\n?$/, '\n'))}\n    ;;\n`;
  const encode = !isPlainAscii(subject);
  return [
    '#!/bin/sh\n',
    '# Managed by mailrig from mailrig.yaml (mail.quota_warning): edit that file, not this one.\n',
    "# Dovecot's quota-warning service runs this as vmail: $1 is the threshold passed, $2 the mailbox.\n",
    'set -eu\n',
    'percent=$1\n',
    'address=$2\n',
    'case "$percent" in\n',
    branch(95),
    branch(80),
    '  *) echo "quota-warning: unknown threshold $percent" >&2; exit 64 ;;\n',
    'esac\n',
    '# {address} in the text is the mailbox address.\n',
    'fill() { ADDRESS="$address" awk \'{ while ((i = index($0, "{address}")) > 0) $0 = substr($0, 1, i - 1) ENVIRON["ADDRESS"] substr($0, i + 9); print }\'; }\n',
    'subject=$(printf \'%s\\n\' "$subject" | fill)\n',
    encode ? 'subject="=?UTF-8?B?$(printf \'%s\' "$subject" | base64 -w0)?="\n' : '',
    '{\n',
    `  printf 'From: Mail system <postmaster@%s>\\n' ${shq(config.server.hostname)}\n`,
    '  printf \'To: <%s>\\n\' "$address"\n',
    '  printf \'Subject: %s\\n\' "$subject"\n',
    '  printf \'Date: %s\\n\' "$(LC_ALL=C date -R)"\n',
    '  printf \'Auto-Submitted: auto-generated\\n\'\n',
    '  printf \'MIME-Version: 1.0\\nContent-Type: text/plain; charset=UTF-8\\nContent-Transfer-Encoding: 8bit\\n\\n\'\n',
    '  printf \'%s\' "$body" | fill\n',
    // The LDA logs errors to stderr, which the script service hands to Dovecot's log (vmail may not
    // open the log file), and reports no statistics (vmail may not reach the stats socket either).
    `} | ${lda} -d "$address" -o ${shq(noEnforce)} -o log_path=/dev/stderr -o info_log_path=/dev/null -o stats_writer_socket_path=\n`,
  ].join('');
}
