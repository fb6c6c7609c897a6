// The yes/no question, answered through injected streams as a person at a terminal would.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { askYesNo } from '../../src/cli/confirm.js';

/** Types `keys` once the question has been shown; resolves to the answer and what was shown. */
async function answer(question: string, keys: string): Promise<{ yes: boolean; shown: string }> {
  const input = new PassThrough();
  // Like a terminal, the output outlives the prompt (inquirer ends the stream it is given).
  const output = new PassThrough();
  output.end = (() => output) as typeof output.end;
  let shown = '';
  let typed = false;
  output.on('data', (chunk: Buffer) => {
    shown += chunk.toString('utf8');
    if (!typed && shown.includes(question)) {
      typed = true;
      setImmediate(() => input.write(keys));
    }
  });
  const yes = await askYesNo(question, { input, output });
  return { yes, shown };
}

describe('askYesNo', () => {
  it('is yes only when the answer is yes', async () => {
    assert.equal((await answer('Apply these changes?', 'y\r')).yes, true);
    assert.equal((await answer('Apply these changes?', 'yes\r')).yes, true);
    assert.equal((await answer('Apply these changes?', 'n\r')).yes, false);
  });

  it('says no is the default, and takes Enter for it', async () => {
    const r = await answer('Delete all mail?', '\r');
    assert.equal(r.yes, false);
    assert.match(r.shown, /Delete all mail\? \(y\/N\)/);
  });
});
