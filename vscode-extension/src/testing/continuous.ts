/**
 * Continuous run (the eye in the Testing view): while a request is watched, a save of a
 * file matching `toxbridge.runOnSaveGlob` reruns the watched tests after a quiet period,
 * the saved file's own tests first (tree.ts continuousBatches). A new save cancels the
 * rerun in flight. While any continuous run is on, the bridge's run-on-save is suspended.
 */

import * as vscode from "vscode";

import { readWorkspaceSettings } from "../vscodeApi";
import { Debouncer } from "./debounce";
import { describe, type Log, type TestBridge, type TestTree } from "./discovery";
import type { TestRuns } from "./runs";
import { continuousBatches, selectNodes } from "./tree";

const DEFAULT_DEBOUNCE_MS = 300;
const DEFAULT_GLOB = "**/*.py";

interface Watch {
  readonly request: vscode.TestRunRequest;
  readonly token: vscode.CancellationToken;
}

export class ContinuousRuns implements vscode.Disposable {
  private readonly watches = new Set<Watch>();
  private readonly debouncer: Debouncer<string>;
  private current: vscode.CancellationTokenSource | undefined;

  constructor(
    private readonly tree: TestTree,
    private readonly runs: TestRuns,
    private readonly bridge: TestBridge,
    private readonly log: Log,
  ) {
    this.debouncer = new Debouncer(
      () => readWorkspaceSettings().settings.server.debounceMs ?? DEFAULT_DEBOUNCE_MS,
      (uris) => {
        void this.rerun(uris);
      },
    );
  }

  get active(): boolean {
    return this.watches.size > 0;
  }

  /** The profile's handler for a continuous request: settles when the user turns it off. */
  watch(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const watch: Watch = { request, token };
    this.watches.add(watch);
    this.suspend();
    return new Promise((resolve) => {
      const subscription = token.onCancellationRequested(() => {
        subscription.dispose();
        this.watches.delete(watch);
        if (this.watches.size === 0) {
          this.debouncer.dispose();
          this.current?.cancel();
        }
        this.suspend();
        resolve();
      });
    });
  }

  onSave(document: vscode.TextDocument): void {
    if (this.watches.size === 0 || document.uri.scheme !== "file") {
      return;
    }
    const glob = readWorkspaceSettings().settings.server.runOnSaveGlob ?? DEFAULT_GLOB;
    if (vscode.languages.match({ pattern: glob }, document) > 0) {
      this.debouncer.trigger(document.uri.toString());
    }
  }

  dispose(): void {
    this.debouncer.dispose();
    this.current?.cancel();
    this.current?.dispose();
  }

  private suspend(): void {
    this.bridge.suspendRunOnSave(this.watches.size > 0).catch((error: unknown) => {
      this.log(`[testing] could not change run-on-save: ${describe(error)}`);
    });
  }

  private async rerun(savedUris: readonly string[]): Promise<void> {
    this.current?.cancel();
    this.current?.dispose();
    const source = new vscode.CancellationTokenSource();
    this.current = source;
    for (const watch of [...this.watches]) {
      const stop = watch.token.onCancellationRequested(() => {
        source.cancel();
      });
      try {
        await this.tree.ensureDiscovered(watch.request.include, source.token);
        const exclude = new Set((watch.request.exclude ?? []).map((item) => item.id));
        const include = watch.request.include && this.tree.snapshot(watch.request.include);
        const watched = selectNodes(this.tree.snapshot(), include, exclude);
        for (const batch of continuousBatches(watched, savedUris)) {
          if (source.token.isCancellationRequested) {
            return;
          }
          await this.runs.runNodes(watch.request, batch, source.token);
        }
      } finally {
        stop.dispose();
      }
    }
  }
}
