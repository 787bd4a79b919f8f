/**
 * The Testing view: one TestController "toxbridge" with the tree (discovery.ts), the "Run"
 * profile with continuous run (runs.ts, continuous.ts) and publish-only runs for runs
 * started elsewhere.
 */

import * as vscode from "vscode";

import { TEST_CONTROLLER_ID, TEST_CONTROLLER_LABEL } from "../constants";
import { ContinuousRuns } from "./continuous";
import { TestTree, type Log, type TestBridge } from "./discovery";
import { TestRuns } from "./runs";

export function registerTesting(context: vscode.ExtensionContext, bridge: TestBridge, log: Log): void {
  const controller = vscode.tests.createTestController(TEST_CONTROLLER_ID, TEST_CONTROLLER_LABEL);
  const tree = new TestTree(controller, bridge, log);
  const runs = new TestRuns(controller, tree, bridge, log);
  const continuous = new ContinuousRuns(tree, runs, bridge, log);
  const profile = controller.createRunProfile(
    "Run",
    vscode.TestRunProfileKind.Run,
    (request, token) => (request.continuous === true ? continuous.watch(request, token) : runs.runRequest(request, token)),
    true,
    undefined,
    true,
  );
  context.subscriptions.push(
    controller,
    tree,
    runs,
    continuous,
    profile,
    vscode.workspace.onDidSaveTextDocument((document) => {
      continuous.onSave(document);
    }),
  );
}
