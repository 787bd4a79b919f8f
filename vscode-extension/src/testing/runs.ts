/**
 * Test runs: the "Run" profile sends `tox/runTests {ids}` for a selection (cancel →
 * `$/cancelRequest`), and `tox/testResults` / `tox/output` / `tox/testRun` notifications
 * become states, messages and output of the right TestRun (routing.ts decides which; runs
 * started elsewhere get publish-only runs).
 */

import * as vscode from "vscode";

import { Methods } from "../constants";
import { formatSeconds } from "../status";
import { describe, toRange, type Log, type TestBridge, type TestTree } from "./discovery";
import { parseRunTests, parseTestResults, parseTestRun, type Location } from "./protocol";
import { insideFolders, OutputRouter, outcomeOf, type MessageSpec, type Outcome } from "./results";
import { publishedRunName, RunRouter } from "./routing";
import { envOf, selectNodes, wireIds, type SelectNode } from "./tree";

/** A TestRun that ignores what arrives after it ended (late notifications of a cancelled run). */
export class ActiveRun {
  private ended = false;

  constructor(readonly run: vscode.TestRun) {}

  get isEnded(): boolean {
    return this.ended;
  }

  end(): void {
    if (!this.ended) {
      this.ended = true;
      this.run.end();
    }
  }
}

export class TestRuns implements vscode.Disposable {
  private readonly router: RunRouter<ActiveRun>;
  private readonly output = new OutputRouter();
  private readonly disposables: vscode.Disposable[];

  constructor(
    private readonly controller: vscode.TestController,
    private readonly tree: TestTree,
    private readonly bridge: TestBridge,
    private readonly log: Log,
  ) {
    this.router = new RunRouter<ActiveRun>({
      publish: (event) =>
        new ActiveRun(controller.createTestRun(new vscode.TestRunRequest(), publishedRunName(event), true)),
      end: (active, event) => {
        if (event?.exitCode !== undefined) {
          active.run.appendOutput(`\r\n${event.cancelled === true ? "cancelled" : `tox exited with code ${event.exitCode}`}\r\n`);
        }
        this.output.finish(event?.runId ?? "");
        active.end();
      },
    });
    this.disposables = [
      bridge.onNotification(Methods.testRun, (params) => {
        const event = parseTestRun(params);
        if (event !== undefined) this.router.onTestRun(event);
      }),
      bridge.onNotification(Methods.testResults, (params) => {
        this.onResults(params);
      }),
      bridge.onNotification(Methods.output, (params) => {
        this.onOutput(params);
      }),
      bridge.onDidStart(() => {
        this.router.endAll();
      }),
    ];
  }

  dispose(): void {
    this.router.endAll();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  /** The "Run" profile's handler (a continuous request goes to continuous.ts first). */
  async runRequest(request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    await this.tree.ensureDiscovered(request.include, token);
    const exclude = new Set((request.exclude ?? []).map((item) => item.id));
    const nodes = selectNodes(this.tree.snapshot(), request.include && this.tree.snapshot(request.include), exclude);
    await this.runNodes(request, nodes, token);
  }

  /** One TestRun of `request` for exactly `nodes`; settles when the bridge's runs have ended. */
  async runNodes(request: vscode.TestRunRequest, nodes: readonly SelectNode[], token: vscode.CancellationToken): Promise<void> {
    const active = new ActiveRun(this.controller.createTestRun(request));
    const { run } = active;
    try {
      if (nodes.length === 0) {
        run.appendOutput("Nothing to run: no tests are selected.\r\n");
        return;
      }
      this.enqueue(run, nodes);
      const ids = wireIds(nodes);
      const claim = this.router.claim(new Set(nodes.map((node) => envOf(node.id))), active);
      const cancelled = token.onCancellationRequested(() => {
        claim.stop();
      });
      try {
        const response = await this.bridge.request(Methods.runTests, { ids, origin: "tests" }, token);
        for (const summary of parseRunTests(response)) {
          const how = summary.cancelled ? "was cancelled" : `exited with code ${summary.exitCode}`;
          run.appendOutput(`\r\ntox -e ${summary.env} ${how} after ${formatSeconds(summary.durationS)}\r\n`);
        }
      } catch (error) {
        if (!token.isCancellationRequested) {
          const text = `The tests could not run: ${describe(error)}`;
          this.log(`[testing] ${text}`);
          run.appendOutput(`${text}\r\n`);
          for (const node of nodes) {
            const item = this.tree.get(node.id);
            if (item !== undefined) run.errored(item, new vscode.TestMessage(text));
          }
        }
      } finally {
        cancelled.dispose();
        claim.release();
      }
    } finally {
      active.end();
    }
  }

  private enqueue(run: vscode.TestRun, nodes: readonly SelectNode[]): void {
    const visit = (node: SelectNode) => {
      if (node.children.length === 0) {
        const item = this.tree.get(node.id);
        if (item !== undefined) run.enqueued(item);
      }
      node.children.forEach(visit);
    };
    nodes.forEach(visit);
  }

  private onResults(params: unknown): void {
    const batch = parseTestResults(params);
    if (batch === undefined) {
      return;
    }
    const active = this.router.runFor(batch.runId, batch.env);
    if (active === undefined || active.isEnded) {
      return;
    }
    const inWorkspace = insideFolders((vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.toString()));
    for (const result of batch.results) {
      const hint = {
        ...(result.label === undefined ? {} : { label: result.label }),
        ...(result.uri === undefined ? {} : { uri: result.uri }),
        ...(result.range === undefined ? {} : { range: result.range }),
      };
      const item = this.tree.ensureItem(result.id, hint);
      apply(active.run, item, outcomeOf(result, inWorkspace));
    }
  }

  private onOutput(params: unknown): void {
    const raw = (typeof params === "object" && params !== null ? params : {}) as Record<string, unknown>;
    const { runId, stream, text } = raw;
    if (typeof runId !== "string" || typeof text !== "string") {
      return;
    }
    const active = this.router.existing(runId);
    if (active === undefined || active.isEnded) {
      return;
    }
    active.run.appendOutput(this.output.push(runId, typeof stream === "string" ? stream : "stdout", text));
  }
}

function apply(run: vscode.TestRun, item: vscode.TestItem, outcome: Outcome): void {
  switch (outcome.state) {
    case "enqueued":
      run.enqueued(item);
      return;
    case "started":
      run.started(item);
      return;
    case "passed":
      run.passed(item, outcome.durationMs);
      return;
    case "skipped":
      run.skipped(item);
      if (outcome.note !== undefined) run.appendOutput(`${outcome.note}\r\n`, undefined, item);
      return;
    case "failed":
      run.failed(item, testMessage(outcome.message), outcome.durationMs);
      return;
    case "errored":
      run.errored(item, testMessage(outcome.message), outcome.durationMs);
      return;
  }
}

function testMessage(spec: MessageSpec | undefined): vscode.TestMessage {
  if (spec === undefined) {
    return new vscode.TestMessage("failed");
  }
  const message =
    spec.expected !== undefined && spec.actual !== undefined
      ? vscode.TestMessage.diff(spec.text, spec.expected, spec.actual)
      : new vscode.TestMessage(spec.text);
  if (spec.location !== undefined) message.location = toLocation(spec.location);
  if (spec.stack.length > 0) {
    message.stackTrace = spec.stack.map(
      (frame) =>
        new vscode.TestMessageStackFrame(
          frame.label,
          vscode.Uri.parse(frame.uri),
          new vscode.Position(frame.range.start.line, frame.range.start.character),
        ),
    );
  }
  return message;
}

function toLocation(location: Location): vscode.Location {
  return new vscode.Location(vscode.Uri.parse(location.uri), toRange(location.range));
}
