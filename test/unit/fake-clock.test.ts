// The fake clock itself: the other tests' timing claims are only as good as it is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sleepOn } from '../../src/util/clock.js';
import { ManualClock } from '../../src/util/manual-clock.js';

test('advance fires timers in due order at their due time, intervals repeatedly, and skips cleared ones', () => {
  const clock = new ManualClock(1000);
  const fired: string[] = [];
  const at = (what: string) => () => fired.push(`${what}@${clock.now() - 1000}`);
  clock.setTimeout(at('b'), 20);
  clock.setTimeout(at('a'), 10);
  const cleared = clock.setTimeout(at('never'), 15);
  const every = clock.setInterval(at('tick'), 8);
  clock.clearTimeout(cleared);
  clock.advance(19);
  assert.deepEqual(fired, ['tick@8', 'a@10', 'tick@16']);
  assert.equal(clock.now(), 1019);
  clock.advance(1);
  assert.deepEqual(fired.at(-1), 'b@20');
  clock.clearInterval(every);
  assert.equal(clock.pending, 0);
  assert.throws(() => clock.advance(-1), RangeError);
});

test('a timer set by a firing timer, due within the same advance, fires in that advance', () => {
  const clock = new ManualClock(0);
  const fired: number[] = [];
  clock.setTimeout(() => clock.setTimeout(() => fired.push(clock.now()), 5), 5);
  clock.advance(10);
  assert.deepEqual(fired, [10]);
});

test('advanceAsync lets awaiting code set its next timer from the moment the last one fired', async () => {
  const clock = new ManualClock(0);
  const woke: number[] = [];
  void (async () => {
    for (let i = 0; i < 3; i++) {
      await sleepOn(clock, 30);
      woke.push(clock.now());
    }
  })();
  await clock.advanceAsync(89);
  assert.deepEqual(woke, [30, 60]);
  await clock.advanceAsync(1);
  assert.deepEqual(woke, [30, 60, 90]);
});

test('advanceToNext, nextDueInMs and whenTimerSet', async () => {
  const clock = new ManualClock(0);
  assert.equal(clock.nextDueInMs(), undefined);
  assert.throws(() => clock.advanceToNext(), /no timer is pending/);
  const seen = clock.timersSet;
  const set = clock.whenTimerSet(seen);
  let resolved = false;
  void set.then(() => (resolved = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(resolved, false, 'no timer set yet');
  let fired = false;
  clock.setTimeout(() => (fired = true), 250);
  await set;
  assert.equal(clock.nextDueInMs(), 250);
  assert.equal(clock.advanceToNext(), 250);
  assert.equal(fired, true);
  await clock.whenTimerSet(seen);
});
