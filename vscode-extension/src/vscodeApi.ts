/**
 * The thin wrapper around the `vscode` API: everything else that needs VS Code talks to
 * these small functions and interfaces, so the logic behind them is unit-tested with fakes.
 */

import * as vscode from "vscode";

import { CONFIG_SECTION } from "./constants";
import { MessageKind, type UserMessage } from "./messages";
import type { ProgressSink, RunUi } from "./runner";
import { readSettings, type ReadResult } from "./settings";

/**
 * Only values the user set (in user, workspace or folder settings): a value left at its
 * default is not sent, so the bridge's own layers (`[tool.toxbridge]` in pyproject.toml,
 * `TOXBRIDGE_*` variables) still apply.
 */
export function readWorkspaceSettings(): ReadResult {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
  return readSettings((key) => {
    const value = config.inspect(key);
    return value?.workspaceFolderValue ?? value?.workspaceValue ?? value?.globalValue;
  });
}

export function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

export const SHOW_OUTPUT = "Show output";

/** Shows a message; the "Show output" button reveals the tox output channel. */
export async function showMessage(message: UserMessage, output: vscode.OutputChannel): Promise<void> {
  const show =
    message.kind === MessageKind.Error
      ? vscode.window.showErrorMessage
      : message.kind === MessageKind.Warning
        ? vscode.window.showWarningMessage
        : vscode.window.showInformationMessage;
  const actions = message.kind === MessageKind.Error || message.kind === MessageKind.Warning ? [SHOW_OUTPUT] : [];
  const choice = await show(message.text, ...actions);
  if (choice === SHOW_OUTPUT) {
    output.show(true);
  }
}

export const progressUi: RunUi = {
  withCancellableProgress<T>(
    title: string,
    task: (sink: ProgressSink, onCancel: (listener: () => void) => void) => Promise<T>,
  ): Promise<T> {
    return Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        (progress, token) =>
          task(
            {
              report: (message, increment) => {
                progress.report({
                  ...(message === undefined ? {} : { message }),
                  ...(increment === undefined ? {} : { increment }),
                });
              },
            },
            (listener) => {
              token.onCancellationRequested(listener);
            },
          ),
      ),
    );
  },
};

export async function pickEnvironments(
  items: readonly { label: string; picked: boolean }[],
): Promise<string[] | undefined> {
  const chosen = await vscode.window.showQuickPick(
    items.map((item) => ({ ...item })),
    {
      canPickMany: true,
      title: "Run tox environments",
      placeHolder: "Pick the tox environments to run",
      ignoreFocusOut: true,
    },
  );
  return chosen?.map((item) => item.label);
}

/**
 * The interpreter selected in the Python extension, when it is installed. Its API is
 * read loosely: it is optional, and any failure just means "use python3".
 */
export async function selectedInterpreter(resource: vscode.Uri | undefined): Promise<string | undefined> {
  const extension = vscode.extensions.getExtension("ms-python.python");
  if (extension === undefined) {
    return undefined;
  }
  try {
    const api: unknown = extension.isActive ? extension.exports : await extension.activate();
    const environments = (api as { environments?: PythonEnvironments } | undefined)?.environments;
    const active = environments?.getActiveEnvironmentPath(resource);
    if (active === undefined) {
      return undefined;
    }
    const resolved = await environments?.resolveEnvironment(active);
    return resolved?.executable.uri?.fsPath ?? active.path;
  } catch {
    return undefined;
  }
}

/** Fires when the user selects another interpreter in the Python extension. */
export function onInterpreterChange(listener: () => void): vscode.Disposable | undefined {
  const extension = vscode.extensions.getExtension("ms-python.python");
  const environments = (extension?.exports as { environments?: PythonEnvironments } | undefined)
    ?.environments;
  return environments?.onDidChangeActiveEnvironmentPath?.(listener);
}

interface PythonEnvironments {
  getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
  resolveEnvironment(
    environment: { path: string },
  ): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
  onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
}
