import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseRunTests, parseTestResults, parseTestRun } from "../src/testing/protocol";
import { CrlfWriter, insideFolders, OutputRouter, outcomeOf } from "../src/testing/results";

const WORKSPACE = "file:///work/project";
const inWorkspace = insideFolders([WORKSPACE]);
const at = (line: number, character = 0) => ({ start: { line, character }, end: { line, character } });

/** A notification as the bridge sends it: one failure with a comparison, one pass, one skip. */
const NOTIFICATION = {
  runId: "r1",
  env: "py",
  results: [
    {
      id: "py|tests/test_a.py::test_fails",
      state: "failed",
      durationMs: 12.5,
      message: "AssertionError: assert 2 == 3",
      text: "def test_fails():\n>       assert total == 3\nE       assert 2 == 3\n",
      location: { uri: `${WORKSPACE}/tests/test_a.py`, range: at(6, 4) },
      expected: "3",
      actual: "2",
      stack: [
        { uri: `${WORKSPACE}/tests/test_a.py`, range: at(6), label: "test_fails" },
        { uri: "file:///usr/lib/python3/dist-packages/x.py", range: at(10), label: "library" },
      ],
    },
    { id: "py|tests/test_a.py::test_passes", state: "passed", durationMs: 0.4 },
    { id: "py|tests/test_a.py::test_skipped", state: "skipped", message: "needs a GPU", label: "test_skipped" },
    { id: "py|tests/test_a.py::test_error", state: "errored", text: "fixture 'db' not found" },
    { id: "py|x", state: "exploded" },
  ],
};

describe("outcomeOf", () => {
  const batch = parseTestResults(NOTIFICATION) ?? assert.fail("parses");
  const [failed, passed, skipped, errored] = batch.results.map((result) => outcomeOf(result, inWorkspace));

  it("drops results with an unknown state", () => {
    assert.equal(batch.results.length, 4);
    assert.equal(batch.runId, "r1");
  });

  it("gives a failed comparison a diff, its location and only the workspace's frames", () => {
    assert.equal(failed?.state, "failed");
    assert.equal(failed.durationMs, 12.5);
    assert.deepEqual(failed.message, {
      text: "AssertionError: assert 2 == 3",
      expected: "3",
      actual: "2",
      location: { uri: `${WORKSPACE}/tests/test_a.py`, range: at(6, 4) },
      stack: [{ uri: `${WORKSPACE}/tests/test_a.py`, range: at(6), label: "test_fails" }],
    });
  });

  it("passes durations and skip reasons along", () => {
    assert.deepEqual(passed, { id: "py|tests/test_a.py::test_passes", state: "passed", durationMs: 0.4 });
    assert.deepEqual(skipped, { id: "py|tests/test_a.py::test_skipped", state: "skipped", note: "test_skipped: skipped: needs a GPU" });
  });

  it("keeps the whole text of a failure without a comparison", () => {
    assert.equal(errored?.state, "errored");
    assert.deepEqual(errored.message, { text: "fixture 'db' not found", stack: [] });
  });

  it("uses the first line of the text as the diff's title when there is no message", () => {
    const outcome = outcomeOf(
      { id: "py|t", state: "failed", text: "\n  assert [1] == [2]\nmore", expected: "[2]", actual: "[1]", stack: [] },
      inWorkspace,
    );
    assert.equal(outcome.message?.text, "assert [1] == [2]");
  });

  it("falls back to the result's own uri and range as the location", () => {
    const outcome = outcomeOf(
      { id: "py|t", state: "failed", uri: `${WORKSPACE}/t.py`, range: at(2), stack: [] },
      inWorkspace,
    );
    assert.deepEqual(outcome.message, { text: "failed", location: { uri: `${WORKSPACE}/t.py`, range: at(2) }, stack: [] });
  });
});

describe("insideFolders", () => {
  it("matches files below a folder, not a sibling with the same prefix", () => {
    assert.ok(inWorkspace(`${WORKSPACE}/a/b.py`));
    assert.ok(!inWorkspace("file:///work/project-other/b.py"));
  });
});

describe("CrlfWriter", () => {
  const SAMPLE = "\u001b[31mFAILED\u001b[0m a\nb\r\nc\n\nd";
  const EXPECTED = "\u001b[31mFAILED\u001b[0m a\r\nb\r\nc\r\n\r\nd";

  it("turns LF into CRLF and keeps CRLF and colours", () => {
    assert.equal(new CrlfWriter().push(SAMPLE), EXPECTED);
  });

  it("gives the same text however the input is split", () => {
    for (let size = 1; size <= SAMPLE.length; size += 1) {
      const writer = new CrlfWriter();
      let out = "";
      for (let start = 0; start < SAMPLE.length; start += size) {
        out += writer.push(SAMPLE.slice(start, start + size));
      }
      assert.equal(out, EXPECTED, `chunks of ${size}`);
    }
  });

  it("keeps one writer per run and stream", () => {
    const router = new OutputRouter();
    assert.equal(router.push("r1", "stdout", "a\r"), "a\r");
    assert.equal(router.push("r1", "stderr", "\nb"), "\r\nb", "another stream's LF is its own");
    assert.equal(router.push("r1", "stdout", "\nc"), "\nc", "the CR of r1's stdout was the first half");
    router.finish("r1");
    assert.equal(router.push("r1", "stdout", "\n"), "\r\n");
  });
});

describe("parseTestRun and parseRunTests", () => {
  it("reads a run's start and end", () => {
    assert.deepEqual(parseTestRun({ runId: "r", env: "py", state: "started", origin: "watch", args: ["-e", "py", 3] }), {
      runId: "r",
      env: "py",
      state: "started",
      origin: "watch",
      args: ["-e", "py"],
    });
    assert.deepEqual(parseTestRun({ runId: "r", state: "ended", origin: "save", exitCode: 1, cancelled: false }), {
      runId: "r",
      env: "",
      state: "ended",
      origin: "save",
      args: [],
      exitCode: 1,
      cancelled: false,
    });
    assert.equal(parseTestRun({ runId: "r", state: "paused" }), undefined);
  });

  it("reads one summary per env", () => {
    assert.deepEqual(parseRunTests({ runs: [{ runId: "r", env: "py", exitCode: 1, cancelled: false, durationS: 0.5 }, {}] }), [
      { runId: "r", env: "py", exitCode: 1, cancelled: false, durationS: 0.5 },
    ]);
  });
});
