/** Texts shown to the user, and which bridge messages to show. Pure. */

import { formatSeconds } from "./status";

export interface PingResult {
  readonly version?: string;
  readonly protocol?: number;
  readonly running?: readonly unknown[];
  readonly queued?: number;
  readonly rttMs?: number;
  readonly connected?: boolean;
}

export interface RunResponse {
  readonly exitCode: number;
  readonly cancelled: boolean;
  readonly durationS: number;
  readonly diagnostics: number;
}

export function parseRunResponse(value: unknown): RunResponse {
  const raw = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  return {
    exitCode: typeof raw.exitCode === "number" ? raw.exitCode : -1,
    cancelled: raw.cancelled === true,
    durationS: typeof raw.durationS === "number" ? raw.durationS : 0,
    diagnostics: typeof raw.diagnostics === "number" ? raw.diagnostics : 0,
  };
}

/** The line the Output channel gets when a run ends. */
export function runSummary(result: RunResponse): string {
  const how = result.cancelled ? "was cancelled" : `exited with code ${result.exitCode}`;
  const failures = result.diagnostics === 1 ? "1 problem" : `${result.diagnostics} problems`;
  return `tox ${how} after ${formatSeconds(result.durationS)} (${failures} reported)`;
}

export function pingSummary(result: PingResult): string {
  const server = `toxbridge server ${result.version ?? "?"} (protocol ${result.protocol ?? "?"})`;
  if (result.connected === false) {
    return `${server} is not connected.`;
  }
  const rtt = result.rttMs === undefined ? "" : `: ${result.rttMs.toFixed(1)} ms round trip`;
  const running = (result.running ?? []).map(describeRun);
  const state = running.length > 0 ? `running ${running.join(", ")}` : "idle";
  const queued = result.queued ? `, ${result.queued} queued` : "";
  return `${server}${rtt}; ${state}${queued}.`;
}

function describeRun(run: unknown): string {
  if (typeof run === "string") {
    return run;
  }
  if (typeof run === "object" && run !== null) {
    const { id, args } = run as Record<string, unknown>;
    const argText = Array.isArray(args) ? ` (tox ${args.join(" ")})`.replace(" ()", "") : "";
    return `${typeof id === "string" ? id : "a run"}${argText}`;
  }
  return "a run";
}

export function cancelSummary(cancelled: readonly string[]): string {
  if (cancelled.length === 0) {
    return "No tox run to cancel.";
  }
  return `Cancelled tox run ${cancelled.join(", ")}.`;
}

/**
 * The text of an error from a request: the bridge's JSON-RPC error message already says
 * what to do, so it is shown as it is; client-side failures get a hint.
 */
export function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/client is not running|connection (?:is )?(?:closed|disposed)|pending response rejected/i.test(message)) {
    return (
      "The toxbridge language server is not running. " +
      'Check the "toxbridge.command" setting and the toxbridge output, then run "toxbridge: Restart language server".'
    );
  }
  return message;
}

export enum MessageKind {
  Error = 1,
  Warning = 2,
  Info = 3,
  Log = 4,
}

export interface UserMessage {
  readonly kind: MessageKind;
  readonly text: string;
}

/**
 * One actionable message per failure. While a request the user started is in flight, the
 * bridge's error messages are held back: if the request fails, its error is the one shown;
 * if it succeeds, the held messages are shown then. The same text is not repeated within
 * `windowMs`.
 */
export class MessagePolicy {
  private pending = 0;
  private held: UserMessage[] = [];
  private readonly lastShown = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly windowMs = 10_000,
  ) {}

  fromServer(message: UserMessage): UserMessage[] {
    if (message.kind === MessageKind.Error && this.pending > 0) {
      this.held.push(message);
      return [];
    }
    return this.fresh([message]);
  }

  requestStarted(): void {
    this.pending += 1;
  }

  /** `errorText` when the request failed. Returns what to show now. */
  requestEnded(errorText?: string): UserMessage[] {
    this.pending = Math.max(0, this.pending - 1);
    const held = this.pending === 0 ? this.held : [];
    if (this.pending === 0) {
      this.held = [];
    }
    if (errorText !== undefined) {
      return this.fresh([{ kind: MessageKind.Error, text: errorText }]);
    }
    return this.fresh(held);
  }

  private fresh(messages: readonly UserMessage[]): UserMessage[] {
    const now = this.now();
    return messages.filter((message) => {
      const last = this.lastShown.get(message.text);
      if (last !== undefined && now - last < this.windowMs) {
        return false;
      }
      this.lastShown.set(message.text, now);
      return true;
    });
  }
}
