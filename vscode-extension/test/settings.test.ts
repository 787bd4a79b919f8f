import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { describePlan, launchPlan, readSettings, type ExtensionSettings } from "../src/settings";

const reader = (values: Record<string, unknown>) => (key: string) => values[key];

describe("readSettings", () => {
  it("maps VS Code settings onto the bridge's settings object", () => {
    const { settings, problems } = readSettings(
      reader({
        endpoint: " tcp://127.0.0.1:9876 ",
        toxArgs: ["-e", "py311"],
        env: { CI: "1" },
        runOnSave: true,
        runOnSaveGlob: "src/**/*.py",
        runOnSaveArgs: ["-e", "lint"],
        debounceMs: 250,
        pathMappings: [{ container: "/src", local: "/home/me/project" }],
        keys: "/home/me/.toxbridge/keys",
        timeoutS: 5,
      }),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(settings.server, {
      endpoint: "tcp://127.0.0.1:9876",
      toxArgs: ["-e", "py311"],
      env: { CI: "1" },
      runOnSave: true,
      runOnSaveGlob: "src/**/*.py",
      runOnSaveArgs: ["-e", "lint"],
      debounceMs: 250,
      pathMappings: [{ container: "/src", local: "/home/me/project" }],
      keys: "/home/me/.toxbridge/keys",
      timeoutS: 5,
    });
  });

  it("leaves out empty and unset values so the bridge's defaults apply", () => {
    const { settings, problems } = readSettings(
      reader({ endpoint: "", keys: "  ", runOnSaveGlob: "", debounceMs: null, timeoutS: null }),
    );
    assert.deepEqual(problems, []);
    assert.deepEqual(settings.server, {});
    assert.deepEqual(settings.command, []);
    assert.equal(settings.logLevel, "warning");
  });

  it("ignores values of the wrong type and says which", () => {
    const { settings, problems } = readSettings(
      reader({ toxArgs: "-e py311", env: { A: 1 }, timeoutS: 0, pathMappings: [{ container: "/src" }], logLevel: "loud" }),
    );
    assert.deepEqual(settings.server, {});
    assert.equal(settings.logLevel, "warning");
    assert.equal(problems.length, 5);
    assert.match(problems[0] ?? "", /^toxbridge\.toxArgs: ignoring "-e py311"/);
  });
});

describe("launchPlan", () => {
  const base: ExtensionSettings = { command: [], logLevel: "warning", server: {} };

  it("uses toxbridge.command as it is", () => {
    const plan = launchPlan(
      { ...base, command: ["/venv/bin/python", "-m", "toxbridge", "lsp"] },
      { interpreterHasToxbridge: false },
    );
    assert.deepEqual(plan, { command: "/venv/bin/python", args: ["-m", "toxbridge", "lsp"] });
  });

  it("prefers the selected interpreter's toxbridge", () => {
    const plan = launchPlan(base, {
      interpreter: "/venv/bin/python",
      interpreterHasToxbridge: true,
      toxbridgeOnPath: "/usr/bin/toxbridge",
    });
    assert.equal(describePlan(plan), "/venv/bin/python -m toxbridge lsp");
  });

  it("falls back to python3 without a selected interpreter", () => {
    assert.equal(describePlan(launchPlan(base, { interpreterHasToxbridge: true })), "python3 -m toxbridge lsp");
  });

  it("falls back to toxbridge on PATH when the interpreter lacks it", () => {
    const plan = launchPlan({ ...base, logLevel: "debug" }, {
      interpreter: "/usr/bin/python3",
      interpreterHasToxbridge: false,
      toxbridgeOnPath: "/home/me/.local/bin/toxbridge",
    });
    assert.deepEqual(plan, { command: "/home/me/.local/bin/toxbridge", args: ["--log-level", "debug", "lsp"] });
  });

  it("puts the log level before the subcommand", () => {
    const plan = launchPlan({ ...base, logLevel: "info" }, { interpreterHasToxbridge: true });
    assert.deepEqual(plan.args, ["-m", "toxbridge", "--log-level", "info", "lsp"]);
  });

  it("quotes words with spaces when describing a plan", () => {
    assert.equal(describePlan({ command: "/opt/my venv/python", args: ["-m", "toxbridge"] }), "'/opt/my venv/python' -m toxbridge");
  });
});
