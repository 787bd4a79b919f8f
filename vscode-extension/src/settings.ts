/**
 * Settings → what the bridge is told and how it is launched. Pure: no `vscode` import, so
 * it is unit-tested with plain objects.
 */

export interface PathMapping {
  readonly container: string;
  readonly local: string;
}

/** The object sent as initializationOptions and as didChangeConfiguration's `settings.toxbridge`. */
export interface ServerSettings {
  endpoint?: string;
  toxArgs?: string[];
  env?: Record<string, string>;
  runOnSave?: boolean;
  runOnSaveGlob?: string;
  runOnSaveArgs?: string[];
  debounceMs?: number;
  pathMappings?: PathMapping[];
  keys?: string;
  timeoutS?: number;
  testEnvs?: string[];
  watch?: boolean;
  codeLens?: boolean;
}

export type LogLevel = "debug" | "info" | "warning" | "error";

export interface ExtensionSettings {
  /** Overrides the launch command of the bridge when not empty. */
  readonly command: readonly string[];
  readonly logLevel: LogLevel;
  readonly server: ServerSettings;
}

export interface ReadResult {
  readonly settings: ExtensionSettings;
  /** One line per ignored value, for the output channel. */
  readonly problems: readonly string[];
}

/** Reads one key of the `toxbridge` section (`WorkspaceConfiguration.get`). */
export type ConfigReader = (key: string) => unknown;

/** Settings that change the command line of the bridge: changing them restarts it. */
export const LAUNCH_KEYS: readonly string[] = ["command", "logLevel"];

const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warning", "error"];

export function readSettings(get: ConfigReader): ReadResult {
  const problems: string[] = [];
  const check = <T>(key: string, parse: (value: unknown) => T | undefined): T | undefined => {
    const value = get(key);
    if (value === undefined || value === null) {
      return undefined;
    }
    const parsed = parse(value);
    if (parsed === undefined) {
      problems.push(`toxbridge.${key}: ignoring ${JSON.stringify(value)} (wrong type)`);
    }
    return parsed;
  };

  const server: ServerSettings = {};
  const endpoint = check("endpoint", asString)?.trim();
  if (endpoint) {
    server.endpoint = endpoint;
  }
  assign(server, "toxArgs", check("toxArgs", asStringArray));
  assign(server, "env", check("env", asStringRecord));
  assign(server, "runOnSave", check("runOnSave", asBoolean));
  const glob = check("runOnSaveGlob", asString)?.trim();
  if (glob) {
    server.runOnSaveGlob = glob;
  }
  assign(server, "runOnSaveArgs", check("runOnSaveArgs", asStringArray));
  assign(server, "debounceMs", check("debounceMs", asNonNegativeNumber));
  assign(server, "pathMappings", check("pathMappings", asPathMappings));
  const keys = check("keys", asString)?.trim();
  if (keys) {
    server.keys = keys;
  }
  assign(server, "timeoutS", check("timeoutS", asPositiveNumber));
  assign(server, "testEnvs", check("testEnvs", asStringArray));
  assign(server, "watch", check("watch", asBoolean));
  assign(server, "codeLens", check("codeLens", asBoolean));

  const level = check("logLevel", (value) =>
    LOG_LEVELS.find((candidate) => candidate === value),
  );
  return {
    settings: {
      command: check("command", asStringArray) ?? [],
      logLevel: level ?? "warning",
      server,
    },
    problems,
  };
}

/** Where the bridge is found, as far as the extension could tell. */
export interface LaunchProbe {
  /** The Python interpreter selected in VS Code, if the Python extension told us one. */
  readonly interpreter?: string;
  /** Whether `interpreter` (or `python3`) can import `toxbridge`. */
  readonly interpreterHasToxbridge: boolean;
  /** Absolute path of a `toxbridge` executable on PATH, if any. */
  readonly toxbridgeOnPath?: string;
}

export interface LaunchPlan {
  readonly command: string;
  readonly args: readonly string[];
}

export const DEFAULT_PYTHON = "python3";

/**
 * The command line of the bridge, before vscode-languageclient appends `--stdio`:
 * `toxbridge.command` if set, else `<interpreter> -m toxbridge lsp`, else `toxbridge lsp`
 * from PATH when the interpreter lacks toxbridge.
 */
export function launchPlan(settings: ExtensionSettings, probe: LaunchProbe): LaunchPlan {
  const [first, ...rest] = settings.command;
  if (first !== undefined) {
    return { command: first, args: rest };
  }
  const logArgs = settings.logLevel === "warning" ? [] : ["--log-level", settings.logLevel];
  if (!probe.interpreterHasToxbridge && probe.toxbridgeOnPath !== undefined) {
    return { command: probe.toxbridgeOnPath, args: [...logArgs, "lsp"] };
  }
  return {
    command: probe.interpreter ?? DEFAULT_PYTHON,
    args: ["-m", "toxbridge", ...logArgs, "lsp"],
  };
}

/** How a launch plan reads in a message: `python3 -m toxbridge lsp`. */
export function describePlan(plan: LaunchPlan): string {
  return [plan.command, ...plan.args].map(quoteIfNeeded).join(" ");
}

function quoteIfNeeded(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function assign<K extends keyof ServerSettings>(
  target: ServerSettings,
  key: K,
  value: ServerSettings[K] | undefined,
): void {
  if (value !== undefined) {
    target[key] = value;
  }
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function asBoolean(value: unknown): boolean | undefined {
  return typeof value === "boolean" ? value : undefined;
}

function asNonNegativeNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function asPositiveNumber(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined;
}

function asStringArray(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === "string")
    ? [...(value)]
    : undefined;
}

function asStringRecord(value: unknown): Record<string, string> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return undefined;
  }
  const entries = Object.entries(value);
  return entries.every(([, item]) => typeof item === "string")
    ? (Object.fromEntries(entries))
    : undefined;
}

function asPathMappings(value: unknown): PathMapping[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const mappings: PathMapping[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== "object" || item === null) {
      return undefined;
    }
    const { container, local } = item as Record<string, unknown>;
    if (typeof container !== "string" || typeof local !== "string") {
      return undefined;
    }
    mappings.push({ container, local });
  }
  return mappings;
}
