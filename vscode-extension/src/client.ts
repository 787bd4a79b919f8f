/**
 * The one place that builds the language client of `toxbridge lsp`: launch command,
 * initialization options, handlers for the bridge's notifications, restart on settings
 * changes.
 */

import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  MessageType,
  RevealOutputChannelOn,
  ShowMessageNotification,
  State,
  TransportKind,
  WorkDoneProgress,
  type CloseHandlerResult,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";

import { CLIENT_ID, CLIENT_NAME, CONFIG_SECTION, Methods } from "./constants";
import { probeLaunch } from "./launch";
import { MessageKind, type MessagePolicy, type UserMessage } from "./messages";
import { OutputDecoder, parseOutput } from "./output";
import type { RunConnection } from "./runner";
import { describePlan, launchPlan, type ServerSettings } from "./settings";
import { parseStatus } from "./status";
import type { StatusBar } from "./statusBar";
import { readWorkspaceSettings, selectedInterpreter, workspaceRoot } from "./vscodeApi";

const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 180_000;

export class BridgeClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private readonly decoder: OutputDecoder;
  private restarts: number[] = [];
  private readonly listeners = new Map<string, Set<(params: unknown) => void>>();
  private readonly started = new vscode.EventEmitter<void>();
  /** Fires each time a (re)started language server is ready. */
  readonly onDidStart = this.started.event;
  private runOnSaveSuspended = false;

  constructor(
    private readonly output: vscode.OutputChannel,
    private readonly statusBar: StatusBar,
    private readonly policy: MessagePolicy,
    private readonly show: (message: UserMessage) => void,
  ) {
    this.decoder = new OutputDecoder((text) => {
      output.append(text);
    });
  }

  async start(): Promise<void> {
    const { settings, problems } = readWorkspaceSettings();
    for (const problem of problems) {
      this.output.appendLine(`[settings] ${problem}`);
    }
    const root = workspaceRoot();
    const probe = await probeLaunch(
      settings.command.length > 0 ? undefined : await selectedInterpreter(vscode.workspace.workspaceFolders?.[0]?.uri),
    );
    const plan = launchPlan(settings, probe);
    if (settings.command.length === 0 && !probe.interpreterHasToxbridge && probe.toxbridgeOnPath === undefined) {
      this.statusBar.server("stopped");
      this.show({
        kind: MessageKind.Error,
        text:
          `toxbridge is not installed for ${plan.command} and not on PATH. ` +
          `Install it (pip install toxbridge) or set "toxbridge.command".`,
      });
      return;
    }
    this.output.appendLine(`[toxbridge] starting the language server: ${describePlan(plan)}`);
    const serverOptions: ServerOptions = {
      command: plan.command,
      args: [...plan.args],
      transport: TransportKind.stdio,
      options: root === undefined ? {} : { cwd: root },
    };
    const client = new LanguageClient(CLIENT_ID, CLIENT_NAME, serverOptions, this.clientOptions());
    this.client = client;
    client.onDidChangeState(({ newState }) => {
      this.statusBar.server(newState === State.Running ? "running" : newState === State.Starting ? "starting" : "stopped");
    });
    client.onNotification(Methods.output, (params: unknown) => {
      const event = parseOutput(params);
      if (event !== undefined) {
        this.decoder.write(event);
      }
      this.dispatch(Methods.output, params);
    });
    for (const method of [Methods.testResults, Methods.testRun]) {
      client.onNotification(method, (params: unknown) => {
        this.dispatch(method, params);
      });
    }
    client.onNotification(Methods.status, (params: unknown) => {
      const status = parseStatus(params);
      if (status === undefined) {
        return;
      }
      if (status.state === "finished" && status.runId !== undefined) {
        this.decoder.finish(status.runId);
      }
      this.statusBar.update(status);
    });
    client.onNotification(ShowMessageNotification.type, ({ type, message }) => {
      this.output.appendLine(`[toxbridge] ${message}`);
      const kind = messageKind(type);
      for (const shown of this.policy.fromServer({ kind, text: message })) {
        this.show(shown);
      }
    });
    await client.start();
    this.started.fire();
  }

  /**
   * Listens to a bridge notification across restarts. vscode-languageclient keeps one
   * handler per method, so every listener goes through this one.
   */
  onNotification(method: string, listener: (params: unknown) => void): vscode.Disposable {
    let set = this.listeners.get(method);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(method, set);
    }
    set.add(listener);
    return new vscode.Disposable(() => set.delete(listener));
  }

  /**
   * While a continuous test run is on, the bridge's own run-on-save is off: the Testing
   * view reruns the watched tests itself, and two runs per save would fight.
   */
  async suspendRunOnSave(suspended: boolean): Promise<void> {
    if (this.runOnSaveSuspended === suspended) {
      return;
    }
    this.runOnSaveSuspended = suspended;
    await this.pushSettings();
  }

  private dispatch(method: string, params: unknown): void {
    for (const listener of this.listeners.get(method) ?? []) {
      try {
        listener(params);
      } catch (error) {
        this.output.appendLine(`[error] ${method}: ${String(error)}`);
      }
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined && client.needsStop()) {
      await client.stop();
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    this.restarts = [];
    await this.start();
  }

  /** Sends settings that do not need a restart. */
  async pushSettings(): Promise<void> {
    const client = this.client;
    if (client?.isRunning() !== true) {
      return;
    }
    await client.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { [CONFIG_SECTION]: this.serverSettings() },
    });
  }

  async request(method: string, params: object, token?: vscode.CancellationToken): Promise<unknown> {
    return token === undefined
      ? this.running().sendRequest(method, params)
      : this.running().sendRequest(method, params, token);
  }

  connection(): RunConnection {
    return {
      request: (method, params) => this.request(method, params),
      notify: (method, params) => this.running().sendNotification(method, params),
      onProgress: (token, handler) => this.running().onProgress(WorkDoneProgress.type, token, handler),
    };
  }

  dispose(): void {
    this.started.dispose();
    void this.stop();
  }

  private running(): LanguageClient {
    const client = this.client;
    if (client?.isRunning() !== true) {
      throw new Error("client is not running");
    }
    return client;
  }

  private clientOptions(): LanguageClientOptions {
    return {
      // Every file: the bridge decides with runOnSaveGlob which saves start a run.
      documentSelector: [{ scheme: "file" }],
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => this.serverSettings(),
      middleware: {
        workspace: {
          // Answer workspace/configuration for our section with the same object as
          // initializationOptions, not the raw settings.
          configuration: async (params, token, next) => {
            const raw = await next(params, token);
            if (!Array.isArray(raw)) {
              return raw;
            }
            return params.items.map((item, index) =>
              item.section === CONFIG_SECTION ? this.serverSettings() : (raw[index] as unknown),
            );
          },
        },
      },
      errorHandler: {
        error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
        closed: (): CloseHandlerResult => this.onClosed(),
      },
    };
  }

  private serverSettings(): ServerSettings {
    const settings = readWorkspaceSettings().settings.server;
    return this.runOnSaveSuspended ? { ...settings, runOnSave: false } : settings;
  }

  private onClosed(): CloseHandlerResult {
    const now = Date.now();
    this.restarts = [...this.restarts.filter((time) => now - time < RESTART_WINDOW_MS), now];
    if (this.restarts.length <= MAX_RESTARTS) {
      this.output.appendLine("[toxbridge] the language server stopped; restarting it");
      return { action: CloseAction.Restart, handled: true };
    }
    this.show({
      kind: MessageKind.Error,
      text:
        `The toxbridge language server stopped ${this.restarts.length} times in 3 minutes and will not be restarted. ` +
        'Check "toxbridge.command" and the output, then run "toxbridge: Restart language server".',
    });
    return { action: CloseAction.DoNotRestart, handled: true };
  }
}

function messageKind(type: MessageType): MessageKind {
  switch (type) {
    case MessageType.Error:
      return MessageKind.Error;
    case MessageType.Warning:
      return MessageKind.Warning;
    case MessageType.Log:
      return MessageKind.Log;
    default:
      return MessageKind.Info;
  }
}


