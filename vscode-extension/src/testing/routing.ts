/**
 * Which TestRun a bridge run's results and output belong to. A run the Testing view asked
 * for (`tox/runTests`, origin "tests", one tox run per env) joins the view's own TestRun;
 * every other run (the palette, run-on-save, a code lens, `toxbridge run` in a terminal,
 * another editor: origin "run", "save", "watch") gets a publish-only TestRun of its own,
 * ended when the bridge says the run ended. Pure and generic in the run type.
 */

import type { TestRunEvent } from "./protocol";

export interface RunFactory<T> {
  /** A publish-only run for a bridge run nobody in this window asked for. */
  publish(event: TestRunEvent): T;
  /** Ends a publish-only run. */
  end(run: T, event: TestRunEvent | undefined): void;
}

export interface RunClaim {
  stop(): void;
  release(): void;
}

interface Claim<T> {
  readonly run: T;
  /** Envs of the request whose bridge run has not been seen yet. */
  readonly pending: Set<string>;
  readonly runIds: Set<string>;
}

interface Known<T> {
  /** Undefined for a run that is not shown (a collection). */
  readonly run: T | undefined;
  readonly published: boolean;
}

/** pytest's collect-only runs (the bridge's discovery, seen through its watch) show nothing. */
export function isCollectOnly(args: readonly string[]): boolean {
  const posargs = args.indexOf("--");
  return posargs >= 0 && args.slice(posargs + 1).some((arg) => arg === "--collect-only" || arg === "--co");
}

export class RunRouter<T> {
  private readonly claims = new Set<Claim<T>>();
  private readonly known = new Map<string, Known<T>>();

  constructor(private readonly factory: RunFactory<T>) {}

  /**
   * The Testing view sends `tox/runTests` for `envs`: the first bridge run of each of those
   * envs with origin "tests" joins `run`. `stop()` (the request was cancelled) takes no more
   * runs, so a rerun's runs cannot join a cancelled request; `release()` (the request
   * settled) also forgets the runs that joined.
   */
  claim(envs: Iterable<string>, run: T): RunClaim {
    const claim: Claim<T> = { run, pending: new Set(envs), runIds: new Set() };
    this.claims.add(claim);
    return {
      stop: () => {
        claim.pending.clear();
      },
      release: () => {
        this.claims.delete(claim);
        for (const runId of claim.runIds) {
          this.known.delete(runId);
        }
      },
    };
  }

  onTestRun(event: TestRunEvent): void {
    if (event.state === "started") {
      this.runFor(event.runId, event.env, event);
      return;
    }
    const known = this.known.get(event.runId);
    if (known?.published === true) {
      this.known.delete(event.runId);
      if (known.run !== undefined) this.factory.end(known.run, event);
    }
  }

  /**
   * The TestRun for results of `runId`. A run first seen through its results (its
   * `tox/testRun` was missed) is treated as if it had started with `origin` "watch", unless
   * a claim is waiting for its env.
   */
  runFor(runId: string, env: string, started?: TestRunEvent): T | undefined {
    const known = this.known.get(runId);
    if (known !== undefined) {
      return known.run;
    }
    const origin = started?.origin;
    const claim =
      origin === "tests" || origin === undefined
        ? [...this.claims].find((candidate) => candidate.pending.has(env))
        : undefined;
    if (claim !== undefined) {
      claim.pending.delete(env);
      claim.runIds.add(runId);
      this.known.set(runId, { run: claim.run, published: false });
      return claim.run;
    }
    const event: TestRunEvent = started ?? { runId, env, state: "started", origin: "watch", args: [] };
    const run = isCollectOnly(event.args) ? undefined : this.factory.publish(event);
    this.known.set(runId, { run, published: true });
    return run;
  }

  /** The run `runId` belongs to, if it is known (output of unknown runs is not shown here). */
  existing(runId: string): T | undefined {
    return this.known.get(runId)?.run;
  }

  /** Ends every publish-only run (the bridge restarted or the extension stops). */
  endAll(): void {
    for (const [runId, known] of [...this.known]) {
      if (known.published) {
        this.known.delete(runId);
        if (known.run !== undefined) this.factory.end(known.run, undefined);
      }
    }
  }
}

/** The name of a publish-only run in the Test Results view. */
export function publishedRunName(event: TestRunEvent): string {
  const where =
    event.origin === "run"
      ? "palette"
      : event.origin === "save"
        ? "run on save"
        : event.origin === "tests"
          ? "code lens"
          : "elsewhere";
  const args = event.args.length > 0 ? ` ${event.args.join(" ")}` : event.env ? ` -e ${event.env}` : "";
  return `tox${args} (${where})`;
}
