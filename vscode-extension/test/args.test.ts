import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { envArgs, envPickItems, fileArgs, testPathFor } from "../src/args";

describe("tox arguments", () => {
  it("runs the picked environments", () => {
    assert.deepEqual(envArgs(["py311", "lint"]), ["-e", "py311,lint"]);
    assert.deepEqual(envArgs([]), []);
  });

  it("passes a file as posargs after --", () => {
    assert.deepEqual(fileArgs(["-e", "py"], "tests/test_a.py"), ["-e", "py", "--", "tests/test_a.py"]);
    assert.deepEqual(fileArgs(["--", "-x"], "tests/test_a.py"), ["--", "-x", "tests/test_a.py"]);
  });

  it("ticks the environments picked last time", () => {
    assert.deepEqual(envPickItems(["py310", "py311"], ["py311", "gone"]), [
      { label: "py310", picked: false },
      { label: "py311", picked: true },
    ]);
  });
});

describe("testPathFor", () => {
  it("uses the path relative to the workspace by default", () => {
    assert.equal(testPathFor("/home/me/p/tests/test_a.py", "/home/me/p", []), "tests/test_a.py");
  });

  it("uses the longest matching path mapping", () => {
    const mappings = [
      { container: "/src", local: "/home/me/p" },
      { container: "/tests", local: "/home/me/p/tests" },
    ];
    assert.equal(testPathFor("/home/me/p/tests/unit/test_a.py", "/home/me/p", mappings), "/tests/unit/test_a.py");
    assert.equal(testPathFor("/home/me/p/pkg/test_b.py", "/home/me/p", mappings), "/src/pkg/test_b.py");
  });

  it("does not treat a sibling with a common prefix as inside", () => {
    assert.equal(testPathFor("/home/me/p2/test_a.py", "/home/me/p", []), "/home/me/p2/test_a.py");
  });
});
