// `mailrig dns --check` against a real knotd: ok for a good zone (reverse zones served too, so PTR
// is checked for real), and the right finding for deliberately broken zones.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCheck, type DnsIo } from '../../src/cli/dns.js';
import { formatZoneFile } from '../../src/dns/bind.js';
import { buildRecords } from '../../src/dns/records.js';
import type { DnsRecord } from '../../src/dns/types.js';
import { oneDomainCase } from '../support/dns-cases.js';
import { startKnot, type KnotZone } from '../support/knot.js';

const c = oneDomainCase();
const records = buildRecords(c.config, c.pub);
const SOA = { nameServers: ['ns1.example.invalid'], hostmaster: 'hostmaster@example.com', serial: 1 };
const REVERSE: KnotZone = {
  origin: '113.0.203.in-addr.arpa',
  text: '$TTL 3600\n@ SOA ns1.example.invalid. hostmaster.example.com. 1 3600 900 1209600 300\n@ NS ns1.example.invalid.\n10 PTR mail.example.com.\n',
};

interface Row {
  name: string;
  type: string;
  status: string;
  found: string[];
}

/** Serves example.com (edited by `edit`) and the reverse zone, runs the check, returns exit code and rows. */
async function check(edit: (zone: string) => string = (z) => z): Promise<{ code: number; rows: Row[] }> {
  const zone = edit(formatZoneFile(records, 'example.com', SOA));
  const knot = await startKnot({ zones: [{ origin: 'example.com', text: zone }, REVERSE] });
  try {
    let out = '';
    const io: DnsIo = {
      out: (t) => (out += t),
      columns: 100,
      interactive: false,
      confirm: async () => false,
      project: { configPath: '/unused/mailrig.yaml', config: c.config, keys: c.keys },
    };
    const code = await runCheck({ config: 'unused', check: true, json: true, resolver: knot.address }, io);
    return { code, rows: JSON.parse(out) as Row[] };
  } finally {
    await knot.stop();
  }
}

const notOk = (rows: Row[]) => rows.filter((r) => r.status !== 'ok').map((r) => `${r.status} ${r.type} ${r.name}`);
const dkimRsa = records.find((r) => r.value.includes('k=rsa')) as DnsRecord;
const tlsaCurrent = records.find((r) => r.type === 'TLSA') as DnsRecord;

describe('dns --check against knotd', () => {
  it('reports every record ok (PTR included) and exits 0 for the zone mailrig wrote', async () => {
    const { code, rows } = await check();
    assert.deepEqual(notOk(rows), []);
    assert.equal(rows.length, records.length);
    assert.equal(code, 0);
  });

  const broken: Array<[string, (zone: string) => string, string[], (rows: Row[]) => void]> = [
    ['DKIM missing', (z) => z.replace(/^r20260115\._domainkey .*$/m, ''), [`missing TXT ${dkimRsa.name}`], () => {}],
    [
      'two SPF records',
      (z) => `${z}@ 3600 IN TXT "v=spf1 a -all"\n`,
      ['conflicting TXT example.com'],
      (rows) => assert.equal(rows.find((r) => r.status === 'conflicting')?.found.length, 2),
    ],
    [
      'wrong MX',
      (z) => z.replace(/^@(\s+\d+ IN MX\s+)10 mail\.example\.com\.$/m, '@$110 mx.elsewhere.example.'),
      ['different MX example.com'],
      (rows) => assert.deepEqual(rows.find((r) => r.status === 'different')?.found, ['10 mx.elsewhere.example.']),
    ],
    [
      'stale TLSA (an old key instead of the current one)',
      (z) => z.replace(tlsaCurrent.value, `3 1 1 ${'ab'.repeat(32)}`),
      ['different TLSA _25._tcp.mail.example.com'],
      (rows) => assert.deepEqual(rows.find((r) => r.status === 'different')?.found, [`3 1 1 ${'ab'.repeat(32)}`]),
    ],
  ];
  for (const [title, edit, findings, more] of broken) {
    it(`finds ${title} and exits 1`, async () => {
      const { code, rows } = await check(edit);
      assert.deepEqual(notOk(rows), findings);
      more(rows);
      assert.equal(code, 1);
    });
  }
});
