/**
 * `tox/testResults` entries → what a TestRun is told (state, duration, the failure message
 * with its diff, location and workspace stack frames), and `tox/output` text → the CRLF
 * terminal text that `TestRun.appendOutput` wants, colours kept. Pure.
 */

import type { Location, ResultState, StackFrame, TestResult } from "./protocol";

export interface MessageSpec {
  readonly text: string;
  /** Both set for a failed comparison: VS Code then shows a diff. */
  readonly expected?: string;
  readonly actual?: string;
  readonly location?: Location;
  readonly stack: readonly StackFrame[];
}

export interface Outcome {
  readonly id: string;
  readonly state: ResultState;
  readonly durationMs?: number;
  /** For failed and errored tests. */
  readonly message?: MessageSpec;
  /** A line for the run's output (a skip's reason). */
  readonly note?: string;
}

/**
 * The Outcome of one result. `inWorkspace(uri)` keeps the stack frames that point into the
 * workspace (library frames are noise in the Test Results view).
 */
export function outcomeOf(result: TestResult, inWorkspace: (uri: string) => boolean): Outcome {
  const outcome: { -readonly [K in keyof Outcome]: Outcome[K] } = { id: result.id, state: result.state };
  if (result.durationMs !== undefined) outcome.durationMs = result.durationMs;
  if (result.state === "failed" || result.state === "errored") {
    outcome.message = messageOf(result, inWorkspace);
  } else if (result.state === "skipped") {
    const reason = result.message ?? result.text;
    if (reason !== undefined && reason !== "") outcome.note = `${result.label ?? result.id}: skipped: ${reason}`;
  }
  return outcome;
}

function messageOf(result: TestResult, inWorkspace: (uri: string) => boolean): MessageSpec {
  const comparison = result.expected !== undefined && result.actual !== undefined;
  // With a diff the peek view's title is the message: keep it short; the full text goes
  // with a failure that has nothing else to show.
  const full = result.text ?? result.message;
  const short = result.message ?? firstLine(result.text);
  const text = (comparison ? short : full) ?? (result.state === "errored" ? "error" : "failed");
  const message: { -readonly [K in keyof MessageSpec]: MessageSpec[K] } = {
    text,
    stack: result.stack.filter((frame) => inWorkspace(frame.uri)),
  };
  if (comparison) {
    message.expected = result.expected;
    message.actual = result.actual;
  }
  const location = result.location ?? (result.uri !== undefined && result.range !== undefined
    ? { uri: result.uri, range: result.range }
    : undefined);
  if (location !== undefined) message.location = location;
  return message;
}

function firstLine(text: string | undefined): string | undefined {
  if (text === undefined) {
    return undefined;
  }
  const line = text.split("\n").find((candidate) => candidate.trim() !== "");
  return line?.trim();
}

/** True when `uri` lies in one of the workspace folders (given as URIs). */
export function insideFolders(folders: readonly string[]): (uri: string) => boolean {
  const prefixes = folders.map((folder) => (folder.endsWith("/") ? folder : `${folder}/`));
  return (uri) => prefixes.some((prefix) => uri.startsWith(prefix));
}

/**
 * LF → CRLF for `TestRun.appendOutput` (a terminal: a bare LF moves down without going
 * back to the start of the line). CRLF stays CRLF, also when a batch ends between CR and
 * LF; escape sequences (colours) pass through untouched.
 */
export class CrlfWriter {
  private lastWasCr = false;

  push(text: string): string {
    if (text === "") {
      return text;
    }
    const head = text.startsWith("\n") && this.lastWasCr ? "\n" : "";
    const body = head === "" ? text : text.slice(1);
    this.lastWasCr = text.endsWith("\r");
    return head + body.replace(/\r?\n/g, "\r\n");
  }
}

/** One CrlfWriter per run and stream. */
export class OutputRouter {
  private readonly writers = new Map<string, CrlfWriter>();

  push(runId: string, stream: string, text: string): string {
    const key = `${runId}\u0000${stream}`;
    let writer = this.writers.get(key);
    if (writer === undefined) {
      writer = new CrlfWriter();
      this.writers.set(key, writer);
    }
    return writer.push(text);
  }

  finish(runId: string): void {
    for (const key of [...this.writers.keys()]) {
      if (key.startsWith(`${runId}\u0000`)) {
        this.writers.delete(key);
      }
    }
  }
}
