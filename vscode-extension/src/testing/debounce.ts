/**
 * A trailing-edge debounce that keeps the latest value: `trigger(x)` (re)starts the quiet
 * period; when it ends, `fire` gets every distinct value triggered since the last fire.
 * Timers are injected so tests drive time by hand. Pure.
 */

export interface Timers {
  set(callback: () => void, ms: number): unknown;
  clear(handle: unknown): void;
}

export const realTimers: Timers = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

export class Debouncer<T> {
  private handle: unknown;
  private values: T[] = [];

  constructor(
    private readonly ms: () => number,
    private readonly fire: (values: T[]) => void,
    private readonly timers: Timers = realTimers,
  ) {}

  trigger(value: T): void {
    if (!this.values.includes(value)) {
      this.values.push(value);
    }
    if (this.handle !== undefined) {
      this.timers.clear(this.handle);
    }
    this.handle = this.timers.set(() => {
      this.handle = undefined;
      const values = this.values;
      this.values = [];
      this.fire(values);
    }, this.ms());
  }

  get pending(): boolean {
    return this.handle !== undefined;
  }

  dispose(): void {
    if (this.handle !== undefined) {
      this.timers.clear(this.handle);
      this.handle = undefined;
    }
    this.values = [];
  }
}
