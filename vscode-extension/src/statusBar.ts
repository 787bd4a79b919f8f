/** The status bar item: renders the pure status model of status.ts. */

import * as vscode from "vscode";

import { Commands } from "./constants";
import {
  INITIAL_STATUS,
  statusView,
  withResult,
  withServer,
  withStatus,
  type RunResult,
  type StatusModel,
  type ToxStatus,
} from "./status";

export class StatusBar implements vscode.Disposable {
  private model: StatusModel = INITIAL_STATUS;
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem("toxbridge.status", vscode.StatusBarAlignment.Left, 50);
    this.item.name = "toxbridge";
    this.item.command = Commands.showOutput;
    this.render();
    this.item.show();
  }

  update(status: ToxStatus): void {
    this.model = withStatus(this.model, status);
    this.render();
  }

  result(result: RunResult): void {
    this.model = withResult(this.model, result);
    this.render();
  }

  server(state: StatusModel["server"]): void {
    this.model = withServer(this.model, state);
    this.render();
  }

  dispose(): void {
    this.item.dispose();
  }

  private render(): void {
    const view = statusView(this.model);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.alert === "error"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : view.alert === "warning"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
  }
}
