import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { RunController, WORK_DONE_CANCEL, type RunConnection, type RunUi, type WorkDoneValue } from "../src/runner";

/** A bridge stand-in: records what the controller sends and lets the test drive progress. */
class FakeBridge implements RunConnection {
  readonly sent: { method: string; params: object }[] = [];
  private progress = new Map<string, (value: WorkDoneValue) => void>();
  private finish: ((value: unknown) => void) | undefined;

  request(method: string, params: object): Promise<unknown> {
    this.sent.push({ method, params });
    return new Promise((resolve) => {
      this.finish = resolve;
    });
  }

  notify(method: string, params: object): Promise<void> {
    this.sent.push({ method, params });
    if (method === WORK_DONE_CANCEL) {
      this.finish?.({ exitCode: -2, cancelled: true, durationS: 0.5, diagnostics: 0 });
    }
    return Promise.resolve();
  }

  onProgress(token: string, handler: (value: WorkDoneValue) => void) {
    this.progress.set(token, handler);
    return { dispose: () => this.progress.delete(token) };
  }

  emit(token: string, value: WorkDoneValue): void {
    this.progress.get(token)?.(value);
  }

  listening(token: string): boolean {
    return this.progress.has(token);
  }
}

class FakeUi implements RunUi {
  readonly reports: [string | undefined, number | undefined][] = [];
  titles: string[] = [];
  cancel: (() => void) | undefined;

  withCancellableProgress<T>(
    title: string,
    task: Parameters<RunUi["withCancellableProgress"]>[1],
  ): Promise<T> {
    this.titles.push(title);
    return task(
      { report: (message, increment) => this.reports.push([message, increment]) },
      (listener) => {
        this.cancel = listener;
      },
    ) as Promise<T>;
  }
}

describe("RunController", () => {
  it("sends tox/run with a work-done token and shows the bridge's progress", async () => {
    const bridge = new FakeBridge();
    const ui = new FakeUi();
    const controller = new RunController(bridge, ui, () => "token-1");
    const done = controller.run(["-e", "py"], "tox -e py");
    assert.deepEqual(bridge.sent[0], { method: "tox/run", params: { args: ["-e", "py"], workDoneToken: "token-1" } });
    bridge.emit("token-1", { kind: "begin", title: "tox" });
    bridge.emit("token-1", { kind: "report", message: "py: install" });
    bridge.emit("token-1", { kind: "report", message: "py: 3 passed", percentage: 40 });
    bridge.emit("token-1", { kind: "report", message: "py: 5 passed", percentage: 60 });
    bridge.emit("token-1", { kind: "end" });
    const finished = bridge.sent[0];
    assert.ok(finished);
    // The fake answers when cancelled; here the run finishes normally through cancel's path.
    ui.cancel?.();
    const result = await done;
    assert.deepEqual(ui.titles, ["tox -e py"]);
    assert.deepEqual(ui.reports, [
      ["py: install", undefined],
      ["py: 3 passed", 40],
      ["py: 5 passed", 20],
    ]);
    assert.equal(result.cancelled, true);
    assert.equal(bridge.listening("token-1"), false, "progress handler disposed");
  });

  it("cancels through window/workDoneProgress/cancel with the run's token", async () => {
    const bridge = new FakeBridge();
    const ui = new FakeUi();
    const controller = new RunController(bridge, ui, () => "token-2");
    const done = controller.run([], "tox");
    ui.cancel?.();
    const result = await done;
    assert.deepEqual(bridge.sent[1], { method: WORK_DONE_CANCEL, params: { token: "token-2" } });
    assert.deepEqual(result, { exitCode: -2, cancelled: true, durationS: 0.5, diagnostics: 0 });
  });

  it("gives every run its own token", async () => {
    const bridge = new FakeBridge();
    const ui = new FakeUi();
    const controller = new RunController(bridge, ui);
    const first = controller.run([], "tox");
    ui.cancel?.();
    await first;
    const second = controller.run([], "tox");
    ui.cancel?.();
    await second;
    const tokens = bridge.sent
      .filter((message) => message.method === "tox/run")
      .map((message) => (message.params as { workDoneToken: string }).workDoneToken);
    assert.equal(tokens.length, 2);
    assert.notEqual(tokens[0], tokens[1]);
    assert.match(tokens[0] ?? "", /^toxbridge-run-/);
  });
});
