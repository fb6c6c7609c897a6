// Golden trees: every case × release rendered and compared byte for byte with
// test/fixtures/render/golden/<case>-<release>/. After an intended change, rewrite them with
//   npm run golden:update
// and review the diff in git like any other change.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { render } from '../../src/services/index.js';
import { formatManifest, MANIFEST_NAME, writeTree } from '../../src/render/tree.js';
import { FIXTURES } from '../support/fixtures.js';
import { lineDiff } from '../support/line-diff.js';
import { renderMatrix } from '../support/render-cases.js';

const GOLDEN = join(FIXTURES, 'render/golden');
const UPDATE = process.env.MAILRIG_UPDATE_GOLDEN === '1';

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

describe('golden render trees', () => {
  for (const { id, ctx } of renderMatrix()) {
    it(id, () => {
      const files = render(ctx);
      const dir = join(GOLDEN, id);
      if (UPDATE) {
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir, { recursive: true });
        writeTree(dir, files);
        return;
      }
      const actual = new Map(files.map((f) => [f.path.slice(1), f.content]));
      actual.set(MANIFEST_NAME, formatManifest(files));
      let expectedFiles: string[];
      try {
        expectedFiles = listFiles(dir);
      } catch {
        assert.fail(`no golden tree at ${dir}: run npm run golden:update`);
      }
      const missing = expectedFiles.filter((p) => !actual.has(p));
      const extra = [...actual.keys()].filter((p) => !expectedFiles.includes(p)).sort();
      assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, `${id}: file set differs from the golden tree`);
      for (const path of expectedFiles) {
        const want = readFileSync(join(dir, path), 'utf8');
        const got = actual.get(path) ?? '';
        if (want !== got) {
          assert.fail(
            `${id}: /${path} differs from the golden tree (- golden, + rendered); ` +
              `if intended, run npm run golden:update\n${lineDiff(want, got)}`,
          );
        }
      }
    });
  }
});
