/**
 * The Testing view: one TestController "toxbridge" with the tree (discovery.ts).
 */

import * as vscode from "vscode";

import { TEST_CONTROLLER_ID, TEST_CONTROLLER_LABEL } from "../constants";
import { TestTree, type Log, type TestBridge } from "./discovery";

export function registerTesting(context: vscode.ExtensionContext, bridge: TestBridge, log: Log): void {
  const controller = vscode.tests.createTestController(TEST_CONTROLLER_ID, TEST_CONTROLLER_LABEL);
  const tree = new TestTree(controller, bridge, log);
  context.subscriptions.push(controller, tree);
}
