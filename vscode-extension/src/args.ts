/** tox argument lists built by the palette commands. Pure. */

import * as path from "node:path";

import type { PathMapping } from "./settings";

/** `-e a,b` for "Run tox environment…". */
export function envArgs(envs: readonly string[]): string[] {
  return envs.length > 0 ? ["-e", envs.join(",")] : [];
}

/**
 * tox arguments that run pytest on one file: the configured args, then the file as a
 * positional argument after `--` (reusing a `--` already in the configured args).
 */
export function fileArgs(toxArgs: readonly string[], testPath: string): string[] {
  return toxArgs.includes("--") ? [...toxArgs, testPath] : [...toxArgs, "--", testPath];
}

/**
 * The path pytest should get for a local file: the container path when a path mapping
 * covers the file (the longest local prefix wins), else the path relative to the workspace
 * folder, which is where the server runs tox by default.
 */
export function testPathFor(
  localFile: string,
  workspaceRoot: string | undefined,
  mappings: readonly PathMapping[],
): string {
  let best: PathMapping | undefined;
  for (const mapping of mappings) {
    if (isInside(localFile, mapping.local) && (best === undefined || mapping.local.length > best.local.length)) {
      best = mapping;
    }
  }
  if (best !== undefined) {
    const rest = path.relative(best.local, localFile).split(path.sep).join("/");
    return rest ? path.posix.join(best.container, rest) : best.container;
  }
  if (workspaceRoot !== undefined && isInside(localFile, workspaceRoot)) {
    return path.relative(workspaceRoot, localFile).split(path.sep).join("/");
  }
  return localFile;
}

function isInside(file: string, dir: string): boolean {
  const relative = path.relative(dir, file);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

export interface EnvPickItem {
  readonly label: string;
  readonly picked: boolean;
}

/** Quick-pick items for the server's envs, with the last choice ticked. */
export function envPickItems(envs: readonly string[], last: readonly string[]): EnvPickItem[] {
  const chosen = new Set(last);
  return envs.map((env) => ({ label: env, picked: chosen.has(env) }));
}
