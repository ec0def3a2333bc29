import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig, updateConfigValue } from '../../src/config/load.js';
import { configOptions } from '../../src/config/docs.js';

const fails = (text: string) => {
  try {
    parseConfig(text, 'door.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('expected a ConfigError');
};

test('an empty file gives the documented defaults', () => {
  const c = parseConfig('', 'door.yaml');
  assert.equal(c.detector.minSize, 20);
  assert.deepEqual(c.detector.thresholds, [0.6, 0.7, 0.7]);
  assert.equal(c.gallery.keepCrops, false);
});

test('problems are reported with file, line and key', () => {
  assert.equal(fails('models:\n  precison: int8\n'), 'door.yaml:2: models.precison: unknown key "precison"');
  assert.match(fails('gallery:\n  path: g.db\n  keepCrops: maybe\n'), /^door\.yaml:3: gallery\.keepCrops: .*boolean/);
  assert.match(fails('detector:\n  thresholds: [0.6, 0.7]\n'), /^door\.yaml:2: detector\.thresholds: /);
  assert.match(fails('matching:\n  threshold: 2\n'), /^door\.yaml:2: matching\.threshold: .*<=1/);
  assert.match(fails('models: [1\n'), /^door\.yaml:\d+: YAML syntax error/);
  assert.match(fails('- a\n- b\n'), /top level must be a mapping/);
  assert.match(fails('nonsense: 1\n'), /^door\.yaml:1: nonsense: unknown key/);
});

test('every option is documented with a description', () => {
  const options = configOptions();
  assert.ok(options.length >= 15);
  for (const o of options) assert.ok(o.description.length > 10, `${o.key} has no description`);
});

test('updating one value keeps comments and refuses to write an invalid file', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'facegate-cfg-')), 'facegate.yaml');
  writeFileSync(path, '# front door\nmatching:\n  margin: 0.1 # wide\n');
  updateConfigValue(path, ['matching', 'threshold'], 0.51);
  const text = readFileSync(path, 'utf8');
  assert.match(text, /# front door/);
  assert.match(text, /margin: 0.1 # wide/);
  assert.equal(parseConfig(text, path).matching.threshold, 0.51);
  assert.throws(() => updateConfigValue(path, ['matching', 'threshold'], 7), ConfigError);
  assert.equal(parseConfig(readFileSync(path, 'utf8'), path).matching.threshold, 0.51);
});
