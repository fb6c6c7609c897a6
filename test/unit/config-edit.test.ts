// Comment-preserving edits of mailrig.yaml: golden before/after files (compared byte for byte, and the
// result must load), table-driven refusals, and saving (validation first, atomic, mode kept).
// MAILRIG_UPDATE_GOLDEN=1 rewrites the .after.yaml files from the current code.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  addAlias,
  addDomain,
  addMailbox,
  EditRejected,
  removeAlias,
  removeDomain,
  removeMailbox,
  saveEdit,
  saveWithHash,
  setPasswordHash,
  setQuota,
} from '../../src/config/edit.js';
import { parseConfig } from '../../src/config/load.js';
import { UsageError } from '../../src/errors.js';
import { FIXTURES } from '../support/fixtures.js';
import { scratchDir } from '../support/project.js';

const DIR = join(FIXTURES, 'edit');
const NEW_HASH = '{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ldw';

const CASES: Record<string, (text: string) => string> = {
  'user-add': (t) => addMailbox(t, 'bob@example.com', { passwordHash: NEW_HASH, quota: '5G', aliases: ['b.jones', 'robert@bücher.example'] }),
  'user-add-empty-domain': (t) => addMailbox(t, 'Carol@BÜCHER.example', { passwordHash: NEW_HASH, sendOnly: true }),
  'user-add-flow': (t) => addMailbox(t, 'bob@example.com', { passwordHash: NEW_HASH, quota: '2G' }),
  'user-quota-uncomment': (t) => setQuota(t, 'alice@example.com', '10G'),
  'user-quota-replace': (t) => setQuota(setQuota(t, 'alice@example.com', '25G'), 'carol@example.com', undefined),
  'user-passwd': (t) => setPasswordHash(t, 'alice@example.com', NEW_HASH),
  'user-rm': (t) => removeMailbox(t, 'bob@example.com'),
  'user-rm-last': (t) => removeMailbox(removeAlias(t, 'postmaster@example.net').text, 'dave@example.net'),
  'alias-add': (t) => addAlias(t, 'sales@example.com', ['alice', 'partner@example.org']).text,
  'alias-add-target': (t) => addAlias(addAlias(t, 'abuse@bücher.example', ['alice@example.com', 'abuse@example.com']).text, 'info@bücher.example', ['alice@example.com']).text,
  'alias-rm-owned': (t) => removeAlias(t, 'bobby@example.com').text,
  'alias-rm-standalone': (t) => removeAlias(t, 'sales@example.com').text,
  'alias-rm-flow': (t) => removeAlias(t, 'a.smith@example.com').text,
  'domain-add': (t) => addDomain(t, 'straße.example', 'alice@example.com'),
  'domain-rm': (t) => removeDomain(t, 'xn--bcher-kva.example', false).text,
};

describe('config edits keep the file as written (golden before/after)', () => {
  const befores = readdirSync(DIR).filter((f) => f.endsWith('.before.yaml'));
  it('every fixture has a case and every case a fixture', () => {
    assert.deepEqual(befores.map((f) => f.replace('.before.yaml', '')).sort(), Object.keys(CASES).sort());
  });
  for (const [name, edit] of Object.entries(CASES)) {
    it(name, () => {
      const before = readFileSync(join(DIR, `${name}.before.yaml`), 'utf8');
      parseConfig(before, `${name}.before.yaml`);
      const after = edit(before);
      const file = join(DIR, `${name}.after.yaml`);
      if (process.env.MAILRIG_UPDATE_GOLDEN === '1' || !existsSync(file)) writeFileSync(file, after);
      assert.equal(after, readFileSync(file, 'utf8'));
      parseConfig(after, `${name}.after.yaml`); // the result loads with every rule
    });
  }
});

describe('config edits given the parsed document', () => {
  for (const [name, edit] of Object.entries(CASES)) {
    const before = readFileSync(join(DIR, `${name}.before.yaml`), 'utf8');
    it(`${name}: the same text as from the text alone`, () => {
      const { doc } = parseConfig(before, 'mailrig.yaml');
      const withDoc: Record<string, (text: string) => string> = {
        'user-add': (t) => addMailbox(t, 'bob@example.com', { passwordHash: NEW_HASH, quota: '5G', aliases: ['b.jones', 'robert@bücher.example'] }, doc),
        'user-passwd': (t) => setPasswordHash(t, 'alice@example.com', NEW_HASH, doc),
        'user-rm': (t) => removeMailbox(t, 'bob@example.com', doc),
        'domain-add': (t) => addDomain(t, 'straße.example', 'alice@example.com', doc),
      };
      const viaDoc = withDoc[name];
      if (viaDoc) assert.equal(viaDoc(before), edit(before));
    });
  }
});

describe('config edits refuse what makes no sense, naming it', () => {
  const base = readFileSync(join(DIR, 'user-rm.before.yaml'), 'utf8');
  const refusals: Array<[string, (t: string) => unknown, RegExp]> = [
    ['adding an existing mailbox', (t) => addMailbox(t, 'ALICE@example.com', { passwordHash: NEW_HASH }), /alice@example\.com: already a mailbox/],
    ['a mailbox in an unknown domain', (t) => addMailbox(t, 'x@example.org', { passwordHash: NEW_HASH }), /example\.org is not a mail domain.*domain add/],
    ['an address without a domain', (t) => addMailbox(t, 'alice', { passwordHash: NEW_HASH }), /not a valid address/],
    ['removing a missing mailbox', (t) => removeMailbox(t, 'zed@example.com'), /zed@example\.com: no such mailbox/],
    ['a quota for a missing mailbox', (t) => setQuota(t, 'zed@example.com', '1G'), /no such mailbox/],
    ['removing a missing alias', (t) => removeAlias(t, 'nobody@example.com'), /nobody@example\.com: no such alias/],
    ['adding an existing domain (in another spelling)', (t) => addDomain(t, 'EXAMPLE.com.', undefined), /already a mail domain/],
    ['an invalid domain', (t) => addDomain(t, 'exa mple', undefined), /not a valid domain name/],
    ['removing a domain with mailboxes', (t) => removeDomain(t, 'example.net', false), /still has 1 mailbox \(dave@example\.net\).*--force/],
  ];
  for (const [what, edit, message] of refusals) {
    it(what, () => assert.throws(() => edit(base), (e: unknown) => e instanceof UsageError && message.test(e.message)));
  }

  it('alias add with targets it already has changes nothing', () => {
    assert.deepEqual(addAlias(base, 'sales@example.com', ['carol@example.com']), { text: base, added: [] });
  });

  it('--force removes a domain with its mailboxes and says which', () => {
    const { mailboxes } = removeDomain(base, 'example.net', true);
    assert.deepEqual(mailboxes, ['dave@example.net']);
  });
});

describe('saveEdit', () => {
  const base = readFileSync(join(DIR, 'user-rm.before.yaml'), 'utf8');
  const project = () => {
    const path = join(scratchDir('mailrig-edit-'), 'mailrig.yaml');
    writeFileSync(path, base);
    chmodSync(path, 0o640);
    return path;
  };

  it('rejects an edit that would not load, with the problems by path, and writes nothing', () => {
    const path = project();
    assert.throws(
      () => saveEdit(path, removeMailbox(base, 'alice@example.com')),
      (e: unknown) => {
        assert.ok(e instanceof EditRejected);
        assert.equal(e.exitCode, 2);
        assert.match(e.format(), /not changed; the edit would leave 2 problems/);
        assert.match(e.format(), /domains\.example\.com\.aliases\.postmaster: alice@example\.com is neither a mailbox nor an alias/);
        assert.match(e.format(), /domains\.example\.com\.aliases\.sales\.0: alice@example\.com/);
        return true;
      },
    );
    assert.equal(readFileSync(path, 'utf8'), base);
    assert.deepEqual(readdirSync(join(path, '..')), ['mailrig.yaml'], 'no temporary file left behind');
  });

  it('writes a checked draft with its placeholder hash replaced, or checks again what differs in more', () => {
    const placeholder = '{ARGON2ID}placeholder';
    const draft = setPasswordHash(base, 'alice@example.com', placeholder);
    const path = project();
    saveWithHash(path, draft, setPasswordHash(base, 'alice@example.com', NEW_HASH), placeholder, NEW_HASH);
    assert.equal(readFileSync(path, 'utf8'), setPasswordHash(base, 'alice@example.com', NEW_HASH));
    // Anything beyond the hash is validated in full: here it would leave problems, so nothing is written.
    const other = project();
    const broken = removeMailbox(setPasswordHash(base, 'alice@example.com', NEW_HASH), 'alice@example.com');
    assert.throws(() => saveWithHash(other, draft, broken, placeholder, NEW_HASH), EditRejected);
    assert.equal(readFileSync(other, 'utf8'), base);
  });

  it('writes a valid edit in place, keeping the file mode', () => {
    const path = project();
    const edited = setQuota(base, 'alice@example.com', '30G');
    const { config } = saveEdit(path, edited);
    assert.equal(readFileSync(path, 'utf8'), edited);
    assert.equal(statSync(path).mode & 0o777, 0o640);
    assert.equal(config.domains[0]?.mailboxes[0]?.quota, 30 * 1024 ** 3);
  });
});
