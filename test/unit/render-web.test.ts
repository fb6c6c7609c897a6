// What nginx serves: the MTA-STS policy, Thunderbird's autoconfig and Outlook's autodiscover answer —
// parsed as XML (well-formed) and checked for every server the client needs, and nothing it must not get.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Config } from '../../src/config/model.js';
import { autoconfigXml, autodiscoverXml, renderWeb, xmlEscape } from '../../src/render/web.js';
import { fixtureKeys } from '../support/fixtures.js';
import { childText, findAll, parseXml, type XmlElement } from '../support/xml-check.js';
import { RENDER_CASES } from '../support/render-cases.js';

function caseConfig(name: string): Config {
  const c = RENDER_CASES.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c.config('debian-13');
}

const POP3_ON = caseConfig('three-domains');
const POP3_OFF = caseConfig('ipv4-only-pop3-off');

function servers(root: XmlElement, tag: 'incomingServer' | 'outgoingServer') {
  return findAll(root, tag).map((s) => ({
    type: s.attributes.type,
    hostname: childText(s, 'hostname'),
    port: childText(s, 'port'),
    socketType: childText(s, 'socketType'),
    username: childText(s, 'username'),
  }));
}

describe('Thunderbird autoconfig (config-v1.1.xml)', () => {
  for (const [label, config, pop3] of [
    ['POP3 on', POP3_ON, true],
    ['POP3 off', POP3_OFF, false],
  ] as const) {
    it(`is well-formed and complete (${label})`, () => {
      const root = parseXml(autoconfigXml(config));
      assert.equal(root.name, 'clientConfig');
      assert.equal(root.attributes.version, '1.1');
      const incoming = servers(root, 'incomingServer');
      const imap = { type: 'imap', hostname: 'mail.example.com', port: '993', socketType: 'SSL', username: '%EMAILADDRESS%' };
      const pop = { type: 'pop3', hostname: 'mail.example.com', port: '995', socketType: 'SSL', username: '%EMAILADDRESS%' };
      assert.deepEqual(incoming, pop3 ? [imap, pop] : [imap]);
      assert.deepEqual(servers(root, 'outgoingServer'), [
        { type: 'smtp', hostname: 'mail.example.com', port: '465', socketType: 'SSL', username: '%EMAILADDRESS%' },
        { type: 'smtp', hostname: 'mail.example.com', port: '587', socketType: 'STARTTLS', username: '%EMAILADDRESS%' },
      ]);
    });
  }

  it('names every domain, IDN ones in both forms', () => {
    const root = parseXml(autoconfigXml(POP3_ON));
    assert.deepEqual(
      findAll(root, 'domain').map((d) => d.text),
      ['example.com', 'example.net', 'xn--bcher-kva.example', 'bücher.example'],
    );
  });
});

describe('Outlook autodiscover (POX)', () => {
  for (const [label, config, pop3] of [
    ['POP3 on', POP3_ON, true],
    ['POP3 off', POP3_OFF, false],
  ] as const) {
    it(`is well-formed and complete (${label})`, () => {
      const root = parseXml(autodiscoverXml(config));
      assert.equal(root.name, 'Autodiscover');
      assert.equal(root.attributes.xmlns, 'http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006');
      const account = findAll(root, 'Account')[0];
      assert.ok(account);
      assert.equal(childText(account, 'AccountType'), 'email');
      assert.equal(childText(account, 'Action'), 'settings');
      const protocols = findAll(account, 'Protocol').map((p) => [
        childText(p, 'Type'),
        childText(p, 'Server'),
        childText(p, 'Port'),
        childText(p, 'SSL'),
        childText(p, 'AuthRequired'),
      ]);
      const want = [
        ['IMAP', 'mail.example.com', '993', 'on', 'on'],
        ...(pop3 ? [['POP3', 'mail.example.com', '995', 'on', 'on']] : []),
        ['SMTP', 'mail.example.com', '465', 'on', 'on'],
      ];
      assert.deepEqual(protocols, want);
      // No LoginName: Outlook then logs in with the address the user typed, which is the login here.
      assert.equal(findAll(root, 'LoginName').length, 0);
    });
  }
});

describe('web files', () => {
  const config = caseConfig('one-domain');
  const files = renderWeb({ config, keys: fixtureKeys(['example.com']), release: 'debian-13' });

  it('serves the MTA-STS policy naming the mail host, in enforce mode', () => {
    const policy = files.find((f) => f.path.endsWith('/.well-known/mta-sts.txt'));
    assert.ok(policy);
    assert.equal(policy.content, 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n');
  });

  it('puts everything under /var/www/mailrig, world-readable, owned by root', () => {
    assert.deepEqual(
      files.map((f) => f.path),
      [
        '/var/www/mailrig/mta-sts/.well-known/mta-sts.txt',
        '/var/www/mailrig/autoconfig/mail/config-v1.1.xml',
        '/var/www/mailrig/autodiscover/autodiscover.xml',
      ],
    );
    for (const f of files) assert.deepEqual([f.mode, f.owner, f.group, f.secret], ['0644', 'root', 'root', false]);
  });

  it('escapes XML metacharacters', () => {
    assert.equal(xmlEscape(`<a href="x">&'`), '&#60;a href=&#34;x&#34;&#62;&#38;&#39;');
    assert.equal(parseXml(`<r a="${xmlEscape('"&<')}">${xmlEscape('<&>')}</r>`).text, '<&>');
  });
});

describe('the XML checker used above', () => {
  const bad = ['<a><b></a></b>', '<a>&nbsp;</a>', '<a x=1/>', '<a></a><b/>', '<a>', 'text<a/>', '<a x="1" x="2"/>', '<!-- a -- b --><a/>'];
  for (const source of bad) {
    it(`rejects ${source}`, () => assert.throws(() => parseXml(source)));
  }
  it('accepts a declaration, comments, attributes and entities', () => {
    const root = parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<!-- hi -->\n<a k=\'v\'><b>x &amp; y</b><c/></a>\n');
    assert.equal(root.attributes.k, 'v');
    assert.equal(childText(root, 'b'), 'x & y');
  });
});
