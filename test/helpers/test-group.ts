// Test files that run together in one process: an entry file (test/unit.test.ts, ...) imports
// every file of its folder statically, so their tests and hooks are all registered before the
// first one runs, and saves a process start per file (about 0.9 s of CPU for Node, tsx, OpenCV
// and ONNX Runtime). Each file in the folder also runs alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';

/** A test that fails when a file in `folder` is missing from the entry file's imports. */
export function checkGroup(folder: URL, imported: readonly string[]): void {
  test(`every file in ${folder.pathname.split('/').at(-2)}/ runs in this group`, () => {
    const files = readdirSync(folder).filter((f) => f.endsWith('.test.ts')).map((f) => f.replace(/\.test\.ts$/, ''));
    assert.deepEqual(files.sort(), [...imported].sort(), 'add the new file to the imports of the entry file');
  });
}
