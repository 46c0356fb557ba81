/**
 * The spacing of a storage lock's linked slots (src/daemon/lock-spacing.ts) on a clock only the
 * test moves: the first entry of a kind runs alone, then entries start when the lock is projected
 * free within half an entry, so two never ask for Proxmox's unfair lock together.
 */
import { SpacedSlots, type SpacedKind } from '../src/daemon/lock-spacing.js';
import { ManualDaemonClock, settle } from './helpers/manual-daemon-clock.js';

/** Entries that run until the test ends them; `started` lists them in start order with the time (s after t0). */
function harness(limit = 2) {
  const clock = new ManualDaemonClock();
  const slots = new SpacedSlots(clock, limit, 5_000);
  const t0 = clock.now();
  const started: string[] = [];
  const ends = new Map<string, { ok: () => void; fail: () => void }>();
  const runs: Array<Promise<void>> = [];
  const submit = (name: string, kind: SpacedKind = 'clone') => {
    runs.push(slots.run(kind, () => new Promise<void>((resolve, reject) => {
      started.push(`${name}@${(clock.now() - t0) / 1000}`);
      ends.set(name, { ok: resolve, fail: () => reject(new Error(`${name} failed`)) });
    })).catch(() => {}));
  };
  const end = async (name: string, failed = false) => {
    const e = ends.get(name);
    if (!e) throw new Error(`${name} has not started`);
    if (failed) e.fail();
    else e.ok();
    await settle();
  };
  return { clock, slots, started, submit, end, done: () => Promise.all(runs) };
}

it('two clones queued together: the second starts only once the first ended (no estimate yet); later ones half a clone apart', async () => {
  const h = harness();
  for (const n of ['a', 'b', 'c', 'd', 'e']) h.submit(n);
  await settle();
  expect(h.started).toEqual(['a@0']);
  await h.clock.advance(8_000); // a clone takes 8 s: nothing else started meanwhile
  expect(h.started).toEqual(['a@0']);
  await h.end('a');
  expect(h.slots.estimate('clone')).toBe(8_000);
  // b alone on the lock: at once; c when b is projected done in 4 s (b's start + 8 s − 4 s)
  expect(h.started).toEqual(['a@0', 'b@8']);
  await h.clock.advance(3_999);
  expect(h.started).toEqual(['a@0', 'b@8']);
  await h.clock.advance(1);
  expect(h.started).toEqual(['a@0', 'b@8', 'c@12']);
  // two in flight: d waits for a slot, then for c's projection (b's end + 8 s) less 4 s
  await h.clock.advance(4_000);
  await h.end('b');
  expect(h.started).toEqual(['a@0', 'b@8', 'c@12']);
  await h.clock.advance(3_999);
  expect(h.started).toEqual(['a@0', 'b@8', 'c@12']);
  await h.clock.advance(1);
  expect(h.started).toEqual(['a@0', 'b@8', 'c@12', 'd@20']);
  // c's sample counts from b's end (16 s), not its start: it waited for b; 9 s > 8 s replaces the estimate
  await h.clock.advance(5_000);
  await h.end('c');
  expect(h.slots.estimate('clone')).toBe(9_000);
  // d projected done at max(c's end 25, d's start 20) + 9 = 34; e at 34 − 4.5
  await h.clock.advance(4_499);
  expect(h.started).toHaveLength(4);
  await h.clock.advance(1);
  expect(h.started.at(-1)).toBe('e@29.5');
  await h.clock.advance(10_000);
  await h.end('d');
  await h.end('e');
  await h.done();
});

it('a lone clone is not delayed: with nothing running on the lock it starts at once', async () => {
  const h = harness();
  h.submit('a');
  await settle();
  await h.clock.advance(10_000);
  await h.end('a');
  await h.clock.advance(1_000);
  h.submit('b');
  await settle();
  expect(h.started).toEqual(['a@0', 'b@11']);
  await h.end('b');
  // a shorter sample (0 s) moves the estimate half-way
  expect(h.slots.estimate('clone')).toBe(5_000);
  h.submit('c');
  await settle();
  expect(h.started).toEqual(['a@0', 'b@11', 'c@11']);
  await h.end('c');
  await h.done();
});

it('an entry running past its projection holds the next back until it ends: it may hold the lock for longer than thought', async () => {
  const h = harness();
  h.submit('a');
  await settle();
  await h.clock.advance(10_000);
  await h.end('a');
  h.submit('b');
  await settle();
  await h.clock.advance(12_000); // b was projected done at 20 s
  h.submit('c');
  await settle();
  await h.clock.advance(15_000);
  expect(h.started).toEqual(['a@0', 'b@10']);
  await h.end('b');
  expect(h.started).toEqual(['a@0', 'b@10', 'c@37']);
  await h.end('c');
  await h.done();
});

it('a destroy runs alone until destroys have an estimate of their own, and a failed entry teaches nothing', async () => {
  const h = harness();
  h.submit('a');
  await settle();
  await h.clock.advance(10_000);
  await h.end('a');
  h.submit('b');
  h.submit('x', 'destroy');
  h.submit('c');
  await settle();
  await h.clock.advance(9_000);
  // with an estimate the destroy would have started at 15 s; without one it waits for b
  expect(h.started).toEqual(['a@0', 'b@10']);
  await h.end('b');
  expect(h.started).toEqual(['a@0', 'b@10', 'x@19']);
  await h.clock.advance(1_000);
  await h.end('x', true);
  expect(h.slots.estimate('destroy')).toBeUndefined();
  // c (FIFO behind the destroy) starts at once: nothing runs
  expect(h.started).toEqual(['a@0', 'b@10', 'x@19', 'c@20']);
  h.submit('y', 'destroy');
  await h.clock.advance(20_000);
  expect(h.started).toHaveLength(4);
  await h.end('c');
  expect(h.started.at(-1)).toBe('y@40');
  await h.clock.advance(2_000);
  await h.end('y');
  expect(h.slots.estimate('destroy')).toBe(2_000);
  await h.done();
});

it('entries slower than PVE\'s timeout start at most 5 s before the lock is projected free, not half an entry', async () => {
  const h = harness();
  h.submit('a');
  h.submit('b');
  h.submit('c');
  await settle();
  await h.clock.advance(22_000); // two locked steps of 11 s
  await h.end('a');
  expect(h.started).toEqual(['a@0', 'b@22']);
  // b projected done at 44 s: c at 39 s (at 33 s, half of b, it would wait 11 s and time out)
  await h.clock.advance(16_999);
  expect(h.started).toEqual(['a@0', 'b@22']);
  await h.clock.advance(1);
  expect(h.started).toEqual(['a@0', 'b@22', 'c@39']);
  await h.clock.advance(5_000);
  await h.end('b');
  await h.end('c');
  await h.done();
});

it('never more than the limit at once, even with a zero estimate', async () => {
  const h = harness(2);
  h.submit('a');
  await settle();
  await h.end('a'); // 0 s
  for (const n of ['b', 'c', 'd']) h.submit(n);
  await settle();
  expect(h.started).toEqual(['a@0', 'b@0', 'c@0']);
  await h.end('b');
  expect(h.started).toEqual(['a@0', 'b@0', 'c@0', 'd@0']);
  await h.end('c');
  await h.end('d');
  await h.done();
});

it('a clone stuck for 30 s (its answer lost, its task hung) holds its slot but no longer stops the other from starting', async () => {
  const h = harness();
  h.submit('a');
  h.submit('b');
  h.submit('c');
  await settle();
  expect(h.started).toEqual(['a@0']);
  await h.clock.advance(29_999);
  expect(h.started).toEqual(['a@0']);
  await h.clock.advance(1);
  // the first clone, with no estimate yet, ran alone for 30 s: the next starts; c waits for a slot
  expect(h.started).toEqual(['a@0', 'b@30']);
  await h.clock.advance(60_000);
  expect(h.started).toEqual(['a@0', 'b@30']);
  await h.end('b');
  expect(h.started).toEqual(['a@0', 'b@30', 'c@90']);
  await h.end('a');
  await h.end('c');
  await h.done();
});

