import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { TestRunEvent } from "../src/testing/protocol";
import { isCollectOnly, publishedRunName, RunRouter } from "../src/testing/routing";

interface FakeRun {
  readonly name: string;
  ended: boolean;
}

function router(): { router: RunRouter<FakeRun>; published: FakeRun[] } {
  const published: FakeRun[] = [];
  return {
    published,
    router: new RunRouter<FakeRun>({
      publish: (event) => {
        const run = { name: publishedRunName(event), ended: false };
        published.push(run);
        return run;
      },
      end: (run) => {
        run.ended = true;
      },
    }),
  };
}

const started = (runId: string, env: string, origin: TestRunEvent["origin"], args: string[] = []): TestRunEvent => ({
  runId,
  env,
  state: "started",
  origin,
  args,
});

describe("RunRouter", () => {
  it("joins the Testing view's runs to its TestRun, one bridge run per env", () => {
    const { router: routes, published } = router();
    const mine: FakeRun = { name: "mine", ended: false };
    const claim = routes.claim(["py", "lint"], mine);
    routes.onTestRun(started("r1", "py", "tests"));
    routes.onTestRun(started("r2", "lint", "tests"));
    routes.onTestRun(started("r3", "py", "tests"));
    assert.equal(routes.runFor("r1", "py"), mine);
    assert.equal(routes.runFor("r2", "lint"), mine);
    assert.notEqual(routes.runFor("r3", "py"), mine, "py's run was already seen: a second one is someone else's");
    routes.onTestRun({ ...started("r1", "py", "tests"), state: "ended" });
    assert.equal(mine.ended, false, "the view's own run ends when its request settles");
    claim.release();
    assert.equal(routes.existing("r1"), undefined);
    assert.equal(published.length, 1);
  });

  it("lets a cancelled request take no more runs, so a rerun's runs join the rerun", () => {
    const { router: routes } = router();
    const cancelled: FakeRun = { name: "cancelled", ended: false };
    const rerun: FakeRun = { name: "rerun", ended: false };
    const first = routes.claim(["py"], cancelled);
    routes.claim(["py"], rerun);
    first.stop();
    routes.onTestRun(started("r2", "py", "tests"));
    assert.equal(routes.existing("r2"), rerun);
  });

  it("gives runs started elsewhere publish-only runs that end with the bridge run", () => {
    const { router: routes, published } = router();
    routes.claim(["py"], { name: "mine", ended: false });
    routes.onTestRun(started("t1", "py", "watch", ["-e", "py"]));
    routes.onTestRun(started("t2", "py", "save", ["-e", "py", "--", "-x"]));
    assert.deepEqual(
      published.map((run) => run.name),
      ["tox -e py (elsewhere)", "tox -e py -- -x (run on save)"],
    );
    const terminal = routes.existing("t1");
    routes.onTestRun({ ...started("t1", "py", "watch"), state: "ended", exitCode: 1 });
    assert.equal(terminal?.ended, true);
    assert.equal(routes.existing("t1"), undefined);
  });

  it("treats results of a run it never saw start as a run from elsewhere", () => {
    const { router: routes, published } = router();
    const run = routes.runFor("x", "py311") ?? assert.fail("a run");
    assert.equal(run.name, "tox -e py311 (elsewhere)");
    assert.equal(routes.runFor("x", "py311"), run);
    routes.endAll();
    assert.ok(run.ended);
    assert.equal(published.length, 1);
  });

  it("shows no run for a collection (the bridge's discovery seen through its watch)", () => {
    const { router: routes, published } = router();
    routes.onTestRun(started("c", "py", "watch", ["-e", "py", "--", "--collect-only", "-q"]));
    assert.equal(routes.runFor("c", "py"), undefined);
    routes.onTestRun({ ...started("c", "py", "watch"), state: "ended" });
    assert.equal(published.length, 0);
    assert.ok(isCollectOnly(["--", "--co"]));
    assert.ok(!isCollectOnly(["--collect-only"]), "only what follows `--` goes to pytest");
  });

  it("names palette runs and code lens runs", () => {
    assert.equal(publishedRunName(started("a", "py", "run", ["-e", "py"])), "tox -e py (palette)");
    assert.equal(publishedRunName(started("a", "py", "tests")), "tox -e py (code lens)");
  });
});
