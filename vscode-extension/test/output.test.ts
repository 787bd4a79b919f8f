import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { AnsiStripper, OutputDecoder, parseOutput, stripAnsi } from "../src/output";

const SAMPLE =
  "\u001b[1m\u001b[31mFAILED\u001b[0m tests/test_sample.py::test_fails - assert 2 == 3\r\n" +
  "\u001b]0;tox: py\u0007py: commands[0]> python -m pytest\n" +
  "\u001b]8;;file:///x\u001b\\link\u001b]8;;\u001b\\ \u001b[38;5;208m1 failed\u001b[0m, 1 passed\n";
const PLAIN =
  "FAILED tests/test_sample.py::test_fails - assert 2 == 3\n" +
  "py: commands[0]> python -m pytest\n" +
  "link 1 failed, 1 passed\n";

describe("stripAnsi", () => {
  it("removes colours, titles and hyperlinks and turns CRLF into LF", () => {
    assert.equal(stripAnsi(SAMPLE), PLAIN);
  });

  it("keeps text without escapes unchanged", () => {
    assert.equal(stripAnsi("plain ✓ text\n\ttabbed"), "plain ✓ text\n\ttabbed");
  });
});

describe("AnsiStripper", () => {
  it("gives the same text however the input is split", () => {
    for (let size = 1; size <= SAMPLE.length; size += 1) {
      const stripper = new AnsiStripper();
      let out = "";
      for (let start = 0; start < SAMPLE.length; start += size) {
        out += stripper.push(SAMPLE.slice(start, start + size));
      }
      out += stripper.flush();
      assert.equal(out, PLAIN, `chunks of ${size}`);
    }
  });

  it("does not hold back a lone escape for ever", () => {
    const stripper = new AnsiStripper();
    stripper.push("\u001b]" + "x".repeat(300));
    assert.equal(stripper.push("y\n"), "y\n");
  });
});

describe("OutputDecoder", () => {
  it("keeps one stripper per run and stream", () => {
    const seen: string[] = [];
    const decoder = new OutputDecoder((text) => seen.push(text));
    decoder.write({ runId: "r1", stream: "stdout", text: "a\u001b[3" });
    decoder.write({ runId: "r1", stream: "stderr", text: "warn\n" });
    decoder.write({ runId: "r1", stream: "stdout", text: "1mb\n" });
    decoder.finish("r1");
    assert.deepEqual(seen, ["a", "warn\n", "b\n"]);
  });

  it("parses tox/output params and rejects malformed ones", () => {
    assert.deepEqual(parseOutput({ runId: "r", stream: "stderr", text: "x" }), { runId: "r", stream: "stderr", text: "x" });
    assert.equal(parseOutput({ runId: "r", stream: "tty", text: "x" }), undefined);
    assert.equal(parseOutput(null), undefined);
  });
});
