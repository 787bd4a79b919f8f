/** Entry point: wires the output channel, status bar, language client and commands. */

import * as vscode from "vscode";

import { BridgeClient } from "./client";
import { registerCommands } from "./commands";
import { CONFIG_SECTION, OUTPUT_CHANNEL_NAME } from "./constants";
import { MessagePolicy, type UserMessage } from "./messages";
import { LAUNCH_KEYS } from "./settings";
import { StatusBar } from "./statusBar";
import { registerTesting } from "./testing";
import { onInterpreterChange, showMessage } from "./vscodeApi";

let bridge: BridgeClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel(OUTPUT_CHANNEL_NAME);
  const statusBar = new StatusBar();
  const policy = new MessagePolicy();
  const show = (message: UserMessage): void => {
    void showMessage(message, output);
  };
  const client = new BridgeClient(output, statusBar, policy, show);
  bridge = client;
  context.subscriptions.push(output, statusBar, client);
  registerCommands({ context, client, output, statusBar, policy, show });
  registerTesting(context, client, (line) => {
    output.appendLine(line);
  });

  const restart = (why: string) => {
    output.appendLine(`[toxbridge] ${why}: restarting the language server`);
    client.restart().catch((error: unknown) => {
      output.appendLine(`[error] restart failed: ${String(error)}`);
    });
  };
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(CONFIG_SECTION)) {
        return;
      }
      if (LAUNCH_KEYS.some((key) => event.affectsConfiguration(`${CONFIG_SECTION}.${key}`))) {
        restart("launch settings changed");
      } else {
        void client.pushSettings();
      }
    }),
  );
  const interpreterWatch = onInterpreterChange(() => {
    restart("the Python interpreter changed");
  });
  if (interpreterWatch !== undefined) {
    context.subscriptions.push(interpreterWatch);
  }

  try {
    await client.start();
  } catch (error) {
    // vscode-languageclient has already shown why it could not start the server.
    output.appendLine(`[error] could not start the language server: ${String(error)}`);
  }
}

export async function deactivate(): Promise<void> {
  await bridge?.stop();
  bridge = undefined;
}
