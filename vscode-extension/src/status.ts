/** The status bar item's text, from `tox/status` notifications and run results. Pure. */

export type ToxState = "idle" | "queued" | "running" | "finished";

export interface ToxStatus {
  readonly state: ToxState;
  readonly runId?: string;
  readonly env?: string;
  readonly position?: number;
  readonly exitCode?: number;
  readonly cancelled?: boolean;
}

export interface RunResult {
  readonly exitCode: number;
  readonly cancelled: boolean;
  readonly durationS?: number;
}

/** What the bar remembers: the current state and the result of the last finished run. */
export interface StatusModel {
  readonly current: ToxStatus;
  readonly last?: RunResult;
  readonly server: "starting" | "running" | "stopped";
}

export interface StatusView {
  readonly text: string;
  readonly tooltip: string;
  readonly alert: "none" | "warning" | "error";
}

export const INITIAL_STATUS: StatusModel = { current: { state: "idle" }, server: "starting" };

const STATES: readonly ToxState[] = ["idle", "queued", "running", "finished"];

export function parseStatus(params: unknown): ToxStatus | undefined {
  if (typeof params !== "object" || params === null) {
    return undefined;
  }
  const raw = params as Record<string, unknown>;
  const state = STATES.find((candidate) => candidate === raw.state);
  if (state === undefined) {
    return undefined;
  }
  const status: {
    state: ToxState;
    runId?: string;
    env?: string;
    position?: number;
    exitCode?: number;
    cancelled?: boolean;
  } = { state };
  if (typeof raw.runId === "string") status.runId = raw.runId;
  if (typeof raw.env === "string" && raw.env) status.env = raw.env;
  if (typeof raw.position === "number") status.position = raw.position;
  if (typeof raw.exitCode === "number") status.exitCode = raw.exitCode;
  if (typeof raw.cancelled === "boolean") status.cancelled = raw.cancelled;
  return status;
}

export function withStatus(model: StatusModel, status: ToxStatus): StatusModel {
  if (status.state === "finished") {
    const last: RunResult = {
      exitCode: status.exitCode ?? (status.cancelled ? -1 : 0),
      cancelled: status.cancelled ?? false,
    };
    return { ...model, current: { state: "idle" }, last };
  }
  return { ...model, current: status };
}

export function withResult(model: StatusModel, result: RunResult): StatusModel {
  return { ...model, current: { state: "idle" }, last: result };
}

export function withServer(model: StatusModel, server: StatusModel["server"]): StatusModel {
  return { ...model, server };
}

export function statusView(model: StatusModel): StatusView {
  const click = "Click to show the tox output.";
  if (model.server === "stopped") {
    return {
      text: "$(debug-disconnect) tox: bridge stopped",
      tooltip: `The toxbridge language server is not running. ${click}`,
      alert: "error",
    };
  }
  const { current } = model;
  if (current.state === "queued") {
    const position = current.position === undefined ? "" : ` #${current.position}`;
    return {
      text: `$(clock) tox: queued${position}`,
      tooltip: `Waiting for the server to finish another run. ${click}`,
      alert: "none",
    };
  }
  if (current.state === "running") {
    return {
      text: `$(sync~spin) tox: ${current.env ?? "running"}`,
      tooltip: `tox is running${current.env ? ` ${current.env}` : ""}. ${click}`,
      alert: "none",
    };
  }
  const last = model.last;
  if (last === undefined) {
    const starting = model.server === "starting";
    return {
      text: starting ? "$(loading~spin) tox" : "$(beaker) tox",
      tooltip: starting ? "Starting the toxbridge language server…" : `toxbridge: idle. ${click}`,
      alert: "none",
    };
  }
  const duration = last.durationS === undefined ? "" : ` in ${formatSeconds(last.durationS)}`;
  if (last.cancelled) {
    return {
      text: "$(circle-slash) tox: cancelled",
      tooltip: `The last tox run was cancelled${duration}. ${click}`,
      alert: "warning",
    };
  }
  if (last.exitCode === 0) {
    return {
      text: "$(pass) tox: passed",
      tooltip: `The last tox run passed${duration}. ${click}`,
      alert: "none",
    };
  }
  return {
    text: `$(error) tox: failed (exit ${last.exitCode})`,
    tooltip: `The last tox run failed with exit code ${last.exitCode}${duration}. ${click}`,
    alert: "error",
  };
}

export function formatSeconds(seconds: number): string {
  if (seconds < 60) {
    return `${seconds.toFixed(1)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}
