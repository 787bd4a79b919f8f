/**
 * The bridge's test methods as JSON (`tox/discover`, `tox/runTests`, `tox/testResults`,
 * `tox/testRun`; see the README's "Tests in the editor"), read leniently: a field of the
 * wrong type is dropped, not fatal, so a newer bridge does not break an older extension.
 * Pure: no `vscode` import.
 */

export interface Position {
  readonly line: number;
  readonly character: number;
}

export interface Range {
  readonly start: Position;
  readonly end: Position;
}

export interface Location {
  readonly uri: string;
  readonly range: Range;
}

export type NodeKind = "env" | "folder" | "file" | "class" | "function" | "test" | "case";

export interface TreeNode {
  readonly id: string;
  readonly label: string;
  readonly kind: NodeKind;
  readonly uri?: string;
  readonly range?: Range;
  readonly children: readonly TreeNode[];
}

export interface CollectionError {
  readonly id: string;
  readonly message: string;
  readonly uri?: string;
  readonly range?: Range;
}

export interface EnvTree {
  readonly env: string;
  readonly items: readonly TreeNode[];
  readonly errors: readonly CollectionError[];
}

export type ResultState = "enqueued" | "started" | "passed" | "failed" | "errored" | "skipped";

export interface StackFrame {
  readonly uri: string;
  readonly range: Range;
  readonly label: string;
}

export interface TestResult {
  readonly id: string;
  readonly state: ResultState;
  readonly durationMs?: number;
  readonly message?: string;
  readonly text?: string;
  readonly location?: Location;
  readonly expected?: string;
  readonly actual?: string;
  readonly stack: readonly StackFrame[];
  readonly label?: string;
  readonly uri?: string;
  readonly range?: Range;
}

export interface TestResults {
  readonly runId: string;
  readonly env: string;
  readonly results: readonly TestResult[];
}

export type RunOrigin = "tests" | "run" | "save" | "watch";

export interface TestRunEvent {
  readonly runId: string;
  readonly env: string;
  readonly state: "started" | "ended";
  readonly origin: RunOrigin;
  readonly args: readonly string[];
  readonly exitCode?: number;
  readonly cancelled?: boolean;
}

export interface RunSummary {
  readonly runId: string;
  readonly env: string;
  readonly exitCode: number;
  readonly cancelled: boolean;
  readonly durationS: number;
}

const KINDS: readonly NodeKind[] = ["env", "folder", "file", "class", "function", "test", "case"];
const STATES: readonly ResultState[] = ["enqueued", "started", "passed", "failed", "errored", "skipped"];
const ORIGINS: readonly RunOrigin[] = ["tests", "run", "save", "watch"];

type Json = Record<string, unknown>;

function object(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function text(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function count(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

/** Copies `value` into `target[key]` unless it is undefined (exactOptionalPropertyTypes). */
function put<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) {
    target[key] = value;
  }
}

export function parsePosition(value: unknown): Position | undefined {
  const raw = object(value);
  const line = count(raw?.line);
  const character = count(raw?.character);
  return line === undefined || character === undefined ? undefined : { line, character };
}

export function parseRange(value: unknown): Range | undefined {
  const raw = object(value);
  const start = parsePosition(raw?.start);
  const end = parsePosition(raw?.end);
  return start === undefined || end === undefined ? undefined : { start, end };
}

function parseLocation(value: unknown): Location | undefined {
  const raw = object(value);
  const uri = text(raw?.uri);
  const range = parseRange(raw?.range);
  return uri === undefined || range === undefined ? undefined : { uri, range };
}

export function parseTreeNode(value: unknown): TreeNode | undefined {
  const raw = object(value);
  const id = text(raw?.id);
  const kind = KINDS.find((candidate) => candidate === raw?.kind);
  if (raw === undefined || id === undefined || kind === undefined) {
    return undefined;
  }
  const node: { -readonly [K in keyof TreeNode]: TreeNode[K] } = {
    id,
    label: text(raw.label) ?? id,
    kind,
    children: list(raw.children).flatMap((child) => parseTreeNode(child) ?? []),
  };
  put(node, "uri", text(raw.uri));
  put(node, "range", parseRange(raw.range));
  return node;
}

function parseCollectionError(value: unknown): CollectionError | undefined {
  const raw = object(value);
  const id = text(raw?.id);
  if (raw === undefined || id === undefined) {
    return undefined;
  }
  const error: { -readonly [K in keyof CollectionError]: CollectionError[K] } = {
    id,
    message: text(raw.message) ?? "collection failed",
  };
  put(error, "uri", text(raw.uri));
  put(error, "range", parseRange(raw.range));
  return error;
}

/** `tox/discover`'s result: one tree per env. */
export function parseDiscover(value: unknown): EnvTree[] {
  return list(object(value)?.envs).flatMap((entry) => {
    const raw = object(entry);
    const env = text(raw?.env);
    if (raw === undefined || env === undefined) {
      return [];
    }
    return [
      {
        env,
        items: list(raw.items).flatMap((item) => parseTreeNode(item) ?? []),
        errors: list(raw.errors).flatMap((error) => parseCollectionError(error) ?? []),
      },
    ];
  });
}

function parseStackFrame(value: unknown): StackFrame | undefined {
  const location = parseLocation(value);
  if (location === undefined) {
    return undefined;
  }
  return { ...location, label: text(object(value)?.label) ?? "" };
}

export function parseTestResult(value: unknown): TestResult | undefined {
  const raw = object(value);
  const id = text(raw?.id);
  const state = STATES.find((candidate) => candidate === raw?.state);
  if (raw === undefined || id === undefined || state === undefined) {
    return undefined;
  }
  const result: { -readonly [K in keyof TestResult]: TestResult[K] } = {
    id,
    state,
    stack: list(raw.stack).flatMap((frame) => parseStackFrame(frame) ?? []),
  };
  put(result, "durationMs", count(raw.durationMs));
  put(result, "message", text(raw.message));
  put(result, "text", text(raw.text));
  put(result, "location", parseLocation(raw.location));
  put(result, "expected", text(raw.expected));
  put(result, "actual", text(raw.actual));
  put(result, "label", text(raw.label));
  put(result, "uri", text(raw.uri));
  put(result, "range", parseRange(raw.range));
  return result;
}

/** A `tox/testResults` notification. */
export function parseTestResults(value: unknown): TestResults | undefined {
  const raw = object(value);
  const runId = text(raw?.runId);
  if (raw === undefined || runId === undefined) {
    return undefined;
  }
  return {
    runId,
    env: text(raw.env) ?? "",
    results: list(raw.results).flatMap((result) => parseTestResult(result) ?? []),
  };
}

/** A `tox/testRun` notification. */
export function parseTestRun(value: unknown): TestRunEvent | undefined {
  const raw = object(value);
  const runId = text(raw?.runId);
  const state = raw?.state === "started" || raw?.state === "ended" ? raw.state : undefined;
  if (raw === undefined || runId === undefined || state === undefined) {
    return undefined;
  }
  const event: { -readonly [K in keyof TestRunEvent]: TestRunEvent[K] } = {
    runId,
    env: text(raw.env) ?? "",
    state,
    origin: ORIGINS.find((candidate) => candidate === raw.origin) ?? "watch",
    args: list(raw.args).flatMap((arg) => text(arg) ?? []),
  };
  put(event, "exitCode", count(raw.exitCode));
  put(event, "cancelled", typeof raw.cancelled === "boolean" ? raw.cancelled : undefined);
  return event;
}

/** `tox/runTests`'s result: one entry per env's tox run. */
export function parseRunTests(value: unknown): RunSummary[] {
  return list(object(value)?.runs).flatMap((entry) => {
    const raw = object(entry);
    const runId = text(raw?.runId);
    if (raw === undefined || runId === undefined) {
      return [];
    }
    return [
      {
        runId,
        env: text(raw.env) ?? "",
        exitCode: count(raw.exitCode) ?? -1,
        cancelled: raw.cancelled === true,
        durationS: count(raw.durationS) ?? 0,
      },
    ];
  });
}
