import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  INITIAL_STATUS,
  parseStatus,
  statusView,
  withResult,
  withServer,
  withStatus,
  type StatusModel,
} from "../src/status";

const running: StatusModel = withServer(INITIAL_STATUS, "running");

describe("statusView", () => {
  it("shows the server starting, then idle", () => {
    assert.equal(statusView(INITIAL_STATUS).text, "$(loading~spin) tox");
    assert.equal(statusView(running).text, "$(beaker) tox");
  });

  it("shows the queue position and the running env", () => {
    assert.equal(statusView(withStatus(running, { state: "queued", position: 2 })).text, "$(clock) tox: queued #2");
    assert.equal(statusView(withStatus(running, { state: "running", env: "py311" })).text, "$(sync~spin) tox: py311");
    assert.equal(statusView(withStatus(running, { state: "running" })).text, "$(sync~spin) tox: running");
  });

  it("keeps the last result once the server is idle again", () => {
    const failed = withStatus(running, { state: "finished", exitCode: 1, cancelled: false });
    const idle = withStatus(failed, { state: "idle" });
    const view = statusView(idle);
    assert.equal(view.text, "$(error) tox: failed (exit 1)");
    assert.equal(view.alert, "error");
  });

  it("shows passed and cancelled results with their duration", () => {
    const passed = statusView(withResult(running, { exitCode: 0, cancelled: false, durationS: 3.25 }));
    assert.equal(passed.text, "$(pass) tox: passed");
    assert.match(passed.tooltip, /in 3\.3 s/);
    const cancelled = statusView(withResult(running, { exitCode: -2, cancelled: true, durationS: 75 }));
    assert.equal(cancelled.text, "$(circle-slash) tox: cancelled");
    assert.match(cancelled.tooltip, /in 1 min 15 s/);
  });

  it("says when the bridge is not running", () => {
    const view = statusView(withServer(running, "stopped"));
    assert.equal(view.text, "$(debug-disconnect) tox: bridge stopped");
    assert.equal(view.alert, "error");
  });
});

describe("parseStatus", () => {
  it("reads the known fields and drops the rest", () => {
    assert.deepEqual(parseStatus({ state: "running", runId: "r1", env: "py", extra: 1 }), {
      state: "running",
      runId: "r1",
      env: "py",
    });
    assert.equal(parseStatus({ state: "sleeping" }), undefined);
    assert.equal(parseStatus("running"), undefined);
  });
});
