import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseDiscover } from "../src/testing/protocol";
import {
  ancestorIds,
  continuousBatches,
  envOf,
  envSpec,
  selectNodes,
  wireIds,
  type ItemSpec,
  type SelectNode,
} from "../src/testing/tree";

const URI = "file:///work/project/tests/test_a.py";
const range = (line: number) => ({ start: { line, character: 0 }, end: { line, character: 0 } });

/** `tox/discover`'s answer as the contract gives it (items under an env node). */
const DISCOVER = {
  envs: [
    {
      env: "py",
      items: [
        {
          id: "py|",
          label: "py",
          kind: "env",
          children: [
            {
              id: "py|tests/",
              label: "tests",
              kind: "folder",
              children: [
                {
                  id: "py|tests/test_a.py",
                  label: "test_a.py",
                  kind: "file",
                  uri: URI,
                  range: range(0),
                  children: [
                    { id: "py|tests/test_a.py::test_one", label: "test_one", kind: "test", uri: URI, range: range(3), children: [] },
                    {
                      id: "py|tests/test_a.py::TestX",
                      label: "TestX",
                      kind: "class",
                      uri: URI,
                      range: range(6),
                      children: [
                        {
                          id: "py|tests/test_a.py::TestX::test_y",
                          label: "test_y",
                          kind: "function",
                          uri: URI,
                          range: range(8),
                          children: [
                            { id: "py|tests/test_a.py::TestX::test_y[1]", label: "[1]", kind: "case", uri: URI, range: range(8), children: [] },
                            { id: "py|tests/test_a.py::TestX::test_y[2]", label: "[2]", kind: "case", uri: URI, range: range(8), children: [] },
                          ],
                        },
                      ],
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
      errors: [
        {
          id: "py|tests/test_broken.py",
          message: "ImportError: No module named 'nope'",
          uri: "file:///work/project/tests/test_broken.py",
          range: range(1),
        },
      ],
    },
    { env: 42, items: [] },
  ],
};

function labels(spec: ItemSpec, depth = 0): string[] {
  return [`${" ".repeat(depth)}${spec.label}${spec.error === undefined ? "" : " !"}`, ...spec.children.flatMap((child) => labels(child, depth + 1))];
}

describe("parseDiscover and envSpec", () => {
  it("builds env → folder → file → class → function → case, with collection errors in place", () => {
    const trees = parseDiscover(DISCOVER);
    assert.equal(trees.length, 1, "an entry without an env name is dropped");
    const spec = envSpec(trees[0] ?? assert.fail());
    assert.equal(spec.id, "py");
    assert.equal(spec.wireId, "py|", "the env runs with the id the bridge gave it");
    assert.deepEqual(labels(spec), [
      "py",
      " tests",
      "  test_a.py",
      "   test_one",
      "   TestX",
      "    test_y",
      "     [1]",
      "     [2]",
      "  test_broken.py !",
    ]);
    const broken = spec.children[0]?.children[1];
    assert.equal(broken?.error, "ImportError: No module named 'nope'");
    assert.equal(broken.uri, "file:///work/project/tests/test_broken.py");
    assert.deepEqual(broken.range, range(1));
  });

  it("takes items given without an env node, and marks an existing item errored", () => {
    const spec = envSpec({
      env: "lint",
      items: [{ id: "lint|t.py", label: "t.py", kind: "file", uri: URI, children: [] }],
      errors: [{ id: "lint|t.py", message: "SyntaxError", range: range(4) }],
    });
    assert.equal(spec.wireId, "lint");
    assert.equal(spec.children.length, 1);
    assert.equal(spec.children[0]?.error, "SyntaxError");
    assert.deepEqual(spec.children[0].range, range(4));
  });

  it("puts an error with the env's id on the env (tox could not run it)", () => {
    const spec = envSpec({ env: "py39", items: [], errors: [{ id: "py39", message: "py39: failed with could not find python3.9" }] });
    assert.equal(spec.error, "py39: failed with could not find python3.9");
    assert.deepEqual(spec.children, []);
  });

  it("drops malformed nodes and keeps the rest", () => {
    const [tree] = parseDiscover({
      envs: [{ env: "py", items: [{ id: "py|a.py", kind: "file", children: [{ kind: "test" }, { id: "py|a.py::t", kind: "weird" }] }] }],
    });
    assert.deepEqual(tree?.items, [{ id: "py|a.py", label: "py|a.py", kind: "file", children: [] }]);
  });
});

describe("ancestorIds", () => {
  it("goes from a case up to its env, trying folders with and without a slash", () => {
    assert.deepEqual(ancestorIds("py|tests/unit/test_a.py::TestX::test_y[a::b]"), [
      "py|tests/unit/test_a.py::TestX::test_y",
      "py|tests/unit/test_a.py::TestX",
      "py|tests/unit/test_a.py",
      "py|tests/unit/",
      "py|tests/unit",
      "py|tests/",
      "py|tests",
      "py",
      "py|",
    ]);
  });

  it("knows an env's id has no ancestors", () => {
    assert.deepEqual(ancestorIds("py"), []);
    assert.equal(envOf("py"), "py");
    assert.equal(envOf("py311|a.py::t"), "py311");
  });
});

function node(id: string, children: SelectNode[] = [], uri?: string): SelectNode {
  return uri === undefined ? { id, wireId: id, children } : { id, wireId: id, children, uri };
}

const FILE_A = "file:///p/tests/test_a.py";
const FILE_B = "file:///p/tests/test_b.py";
const CASE_1 = node("py|tests/test_a.py::t[1]", [], FILE_A);
const CASE_2 = node("py|tests/test_a.py::t[2]", [], FILE_A);
const FUNCTION = node("py|tests/test_a.py::t", [CASE_1, CASE_2], FILE_A);
const OTHER = node("py|tests/test_a.py::u", [], FILE_A);
const A = node("py|tests/test_a.py", [FUNCTION, OTHER], FILE_A);
const B = node("py|tests/test_b.py", [node("py|tests/test_b.py::v", [], FILE_B)], FILE_B);
const PY = { ...node("py", [node("py|tests/", [A, B])]), wireId: "py|" };
const LINT = node("lint");

describe("selectNodes", () => {
  it("runs every env when nothing is included", () => {
    assert.deepEqual(wireIds(selectNodes([PY, LINT], undefined, new Set())), ["py|", "lint"]);
  });

  it("replaces a node with excluded parts by its other children", () => {
    const chosen = selectNodes([PY], [PY], new Set([CASE_2.id, B.id]));
    assert.deepEqual(wireIds(chosen), [CASE_1.id, OTHER.id]);
  });

  it("drops an included node that is itself excluded", () => {
    assert.deepEqual(selectNodes([PY], [A, B], new Set([B.id])), [A]);
  });
});

describe("continuousBatches", () => {
  it("runs the saved file's tests first, then the rest of the watched tests", () => {
    const batches = continuousBatches([PY], [FILE_A]);
    assert.deepEqual(batches.map(wireIds), [[A.id], [B.id]]);
  });

  it("runs only the watched part of the saved file", () => {
    assert.deepEqual(continuousBatches([CASE_2, B], [FILE_A]).map(wireIds), [[CASE_2.id], [B.id]]);
  });

  it("reruns everything watched in one batch when the saved file has no tests", () => {
    assert.deepEqual(continuousBatches([PY, LINT], ["file:///p/src/lib.py"]).map(wireIds), [["py|", "lint"]]);
    assert.deepEqual(continuousBatches([], [FILE_A]), []);
  });

  it("needs one batch when the saved file is all that is watched", () => {
    assert.deepEqual(continuousBatches([A], [FILE_A]).map(wireIds), [[A.id]]);
  });
});
