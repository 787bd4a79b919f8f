/** Names shared with the bridge (`toxbridge lsp`) and with package.json. */

export const CONFIG_SECTION = "toxbridge";
export const OUTPUT_CHANNEL_NAME = "toxbridge";
export const CLIENT_ID = "toxbridge";
export const CLIENT_NAME = "toxbridge";

/** Custom requests and notifications of the bridge (see the project's DESIGN.md). */
export const Methods = {
  run: "tox/run",
  cancel: "tox/cancel",
  ping: "tox/ping",
  envs: "tox/envs",
  output: "tox/output",
  status: "tox/status",
  discover: "tox/discover",
  runTests: "tox/runTests",
  testResults: "tox/testResults",
  testRun: "tox/testRun",
} as const;

export const TEST_CONTROLLER_ID = "toxbridge";
export const TEST_CONTROLLER_LABEL = "toxbridge";

/**
 * Palette command ids. They must differ from the bridge's executeCommand names
 * (`toxbridge.run`, ...), which vscode-languageclient registers as VS Code commands itself.
 */
export const Commands = {
  run: "toxbridgeClient.run",
  runEnvironments: "toxbridgeClient.runEnvironments",
  runCurrentFile: "toxbridgeClient.runCurrentFile",
  cancel: "toxbridgeClient.cancel",
  ping: "toxbridgeClient.ping",
  showOutput: "toxbridgeClient.showOutput",
  restart: "toxbridgeClient.restart",
} as const;

/** workspaceState key of the environments last picked in "Run tox environment…". */
export const LAST_ENVS_KEY = "toxbridge.lastEnvironments";
