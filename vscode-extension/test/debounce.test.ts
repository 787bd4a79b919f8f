import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Debouncer, type Timers } from "../src/testing/debounce";

/** Timers driven by hand: `run()` fires what is due. */
class ManualTimers implements Timers {
  private next = 0;
  readonly pending = new Map<number, { callback: () => void; ms: number }>();

  set(callback: () => void, ms: number): number {
    this.next += 1;
    this.pending.set(this.next, { callback, ms });
    return this.next;
  }

  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  run(): void {
    for (const [handle, { callback }] of [...this.pending]) {
      this.pending.delete(handle);
      callback();
    }
  }
}

describe("Debouncer", () => {
  it("fires once after a burst, with each value once", () => {
    const timers = new ManualTimers();
    const fired: string[][] = [];
    const debouncer = new Debouncer<string>(() => 300, (values) => fired.push(values), timers);
    debouncer.trigger("a");
    debouncer.trigger("b");
    debouncer.trigger("a");
    assert.equal(timers.pending.size, 1, "each trigger restarts the one quiet period");
    assert.equal([...timers.pending.values()][0]?.ms, 300);
    assert.ok(debouncer.pending);
    timers.run();
    assert.deepEqual(fired, [["a", "b"]]);
    assert.ok(!debouncer.pending);
    debouncer.trigger("c");
    timers.run();
    assert.deepEqual(fired, [["a", "b"], ["c"]]);
  });

  it("forgets what is pending when disposed", () => {
    const timers = new ManualTimers();
    const fired: number[][] = [];
    const debouncer = new Debouncer<number>(() => 10, (values) => fired.push(values), timers);
    debouncer.trigger(1);
    debouncer.dispose();
    timers.run();
    assert.deepEqual(fired, []);
    debouncer.trigger(2);
    timers.run();
    assert.deepEqual(fired, [[2]]);
  });
});
