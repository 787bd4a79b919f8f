/** The palette commands. Each one is a request to the bridge, guarded by one error policy. */

import * as vscode from "vscode";

import { envArgs, envPickItems, fileArgs, testPathFor } from "./args";
import type { BridgeClient } from "./client";
import { Commands, LAST_ENVS_KEY, Methods } from "./constants";
import {
  cancelSummary,
  describeError,
  MessageKind,
  pingSummary,
  runSummary,
  type MessagePolicy,
  type PingResult,
  type UserMessage,
} from "./messages";
import { RunController } from "./runner";
import type { StatusBar } from "./statusBar";
import { pickEnvironments, progressUi, readWorkspaceSettings, workspaceRoot } from "./vscodeApi";

export interface CommandDeps {
  readonly context: vscode.ExtensionContext;
  readonly client: BridgeClient;
  readonly output: vscode.OutputChannel;
  readonly statusBar: StatusBar;
  readonly policy: MessagePolicy;
  readonly show: (message: UserMessage) => void;
}

export function registerCommands(deps: CommandDeps): void {
  const { context, client, output } = deps;
  const guarded = (task: () => Promise<void>) => () => guard(deps, task);
  const runner = new RunController(client.connection(), progressUi);

  const run = async (args: readonly string[], what: string): Promise<void> => {
    output.appendLine(`$ tox ${args.join(" ")}`.trimEnd());
    const result = await runner.run(args, what);
    output.appendLine(runSummary(result));
    deps.statusBar.result(result);
  };

  const register = (id: string, task: () => Promise<void>) => {
    context.subscriptions.push(vscode.commands.registerCommand(id, guarded(task)));
  };

  register(Commands.run, async () => {
    await run(readWorkspaceSettings().settings.server.toxArgs ?? [], "Running tox");
  });

  register(Commands.runEnvironments, async () => {
    const response = (await client.request(Methods.envs, {})) as { envs?: unknown };
    const envs = Array.isArray(response.envs) ? response.envs.filter((env) => typeof env === "string") : [];
    if (envs.length === 0) {
      deps.show({ kind: MessageKind.Warning, text: "The tox server lists no environments." });
      return;
    }
    const last = context.workspaceState.get<string[]>(LAST_ENVS_KEY, []);
    const chosen = await pickEnvironments(envPickItems(envs, last));
    if (chosen === undefined || chosen.length === 0) {
      return;
    }
    await context.workspaceState.update(LAST_ENVS_KEY, chosen);
    await run(envArgs(chosen), `Running tox -e ${chosen.join(",")}`);
  });

  register(Commands.runCurrentFile, async () => {
    const document = vscode.window.activeTextEditor?.document;
    if (document?.uri.scheme !== "file") {
      deps.show({ kind: MessageKind.Warning, text: "Open a test file to run tox on it." });
      return;
    }
    const { server } = readWorkspaceSettings().settings;
    const testPath = testPathFor(document.uri.fsPath, workspaceRoot(), server.pathMappings ?? []);
    await run(fileArgs(server.toxArgs ?? [], testPath), `Running tox on ${testPath}`);
  });

  register(Commands.cancel, async () => {
    const response = (await client.request(Methods.cancel, {})) as { cancelled?: unknown };
    const ids = Array.isArray(response.cancelled) ? response.cancelled.map(String) : [];
    deps.show({ kind: MessageKind.Info, text: cancelSummary(ids) });
  });

  register(Commands.ping, async () => {
    const response = (await client.request(Methods.ping, {})) as PingResult;
    deps.show({
      kind: response.connected === false ? MessageKind.Warning : MessageKind.Info,
      text: pingSummary(response),
    });
  });

  register(Commands.showOutput, () => {
    output.show(true);
    return Promise.resolve();
  });

  register(Commands.restart, async () => {
    await client.restart();
  });
}

async function guard(deps: CommandDeps, task: () => Promise<void>): Promise<void> {
  deps.policy.requestStarted();
  let shown: UserMessage[];
  try {
    await task();
    shown = deps.policy.requestEnded();
  } catch (error) {
    const text = describeError(error);
    deps.output.appendLine(`[error] ${text}`);
    shown = deps.policy.requestEnded(text);
  }
  for (const message of shown) {
    deps.show(message);
  }
}
