import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  cancelSummary,
  describeError,
  MessageKind,
  MessagePolicy,
  parseRunResponse,
  pingSummary,
  runSummary,
} from "../src/messages";

describe("summaries", () => {
  it("describes a ping", () => {
    assert.equal(
      pingSummary({ version: "0.1.0", protocol: 1, running: [], queued: 0, rttMs: 1.234, connected: true }),
      "toxbridge server 0.1.0 (protocol 1): 1.2 ms round trip; idle.",
    );
    assert.equal(
      pingSummary({ version: "0.1.0", protocol: 1, running: [{ id: "r7", args: ["-e", "py"] }], queued: 2, rttMs: 3 }),
      "toxbridge server 0.1.0 (protocol 1): 3.0 ms round trip; running r7 (tox -e py), 2 queued.",
    );
    assert.equal(pingSummary({ connected: false }), "toxbridge server ? (protocol ?) is not connected.");
  });

  it("describes run results and cancels", () => {
    const result = parseRunResponse({ exitCode: 1, cancelled: false, durationS: 2.5, diagnostics: 1 });
    assert.equal(runSummary(result), "tox exited with code 1 after 2.5 s (1 problem reported)");
    assert.equal(
      runSummary(parseRunResponse({ exitCode: -2, cancelled: true, durationS: 1, diagnostics: 0 })),
      "tox was cancelled after 1.0 s (0 problems reported)",
    );
    assert.equal(cancelSummary([]), "No tox run to cancel.");
    assert.equal(cancelSummary(["r1"]), "Cancelled tox run r1.");
  });

  it("keeps the bridge's error text and explains a stopped client", () => {
    assert.equal(
      describeError(new Error("No toxbridge server answered at tcp://127.0.0.1:9 within 5 s: start `toxbridge serve`")),
      "No toxbridge server answered at tcp://127.0.0.1:9 within 5 s: start `toxbridge serve`",
    );
    assert.match(describeError(new Error("client is not running")), /toxbridge\.command/);
  });
});

describe("MessagePolicy", () => {
  const error = (text: string) => ({ kind: MessageKind.Error, text });

  it("shows only the request's error when the bridge also reported it", () => {
    const policy = new MessagePolicy(() => 0);
    policy.requestStarted();
    assert.deepEqual(policy.fromServer(error("server unreachable at tcp://127.0.0.1:9")), []);
    assert.deepEqual(policy.requestEnded("No server at tcp://127.0.0.1:9: start it"), [
      error("No server at tcp://127.0.0.1:9: start it"),
    ]);
  });

  it("shows held messages when the request succeeds", () => {
    const policy = new MessagePolicy(() => 0);
    policy.requestStarted();
    policy.fromServer(error("lost the server for a moment"));
    assert.deepEqual(policy.requestEnded(), [error("lost the server for a moment")]);
  });

  it("shows bridge messages at once when nothing is pending, without repeats", () => {
    let now = 0;
    const policy = new MessagePolicy(() => now, 1000);
    assert.equal(policy.fromServer(error("auth failed")).length, 1);
    now = 500;
    assert.equal(policy.fromServer(error("auth failed")).length, 0);
    now = 1500;
    assert.equal(policy.fromServer(error("auth failed")).length, 1);
    assert.equal(policy.fromServer({ kind: MessageKind.Info, text: "hello" }).length, 1);
  });
});
