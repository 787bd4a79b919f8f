/** Finds where the bridge can be started from: the interpreter and PATH. */

import { execFile } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access } from "node:fs/promises";
import * as path from "node:path";

import { DEFAULT_PYTHON, type LaunchProbe } from "./settings";

const HAS_TOXBRIDGE = "import importlib.util, sys; sys.exit(importlib.util.find_spec('toxbridge') is None)";

export async function probeLaunch(interpreter: string | undefined): Promise<LaunchProbe> {
  const [hasToxbridge, onPath] = await Promise.all([
    canImportToxbridge(interpreter ?? DEFAULT_PYTHON),
    findOnPath("toxbridge"),
  ]);
  return {
    ...(interpreter === undefined ? {} : { interpreter }),
    interpreterHasToxbridge: hasToxbridge,
    ...(onPath === undefined ? {} : { toxbridgeOnPath: onPath }),
  };
}

function canImportToxbridge(python: string): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(python, ["-c", HAS_TOXBRIDGE], { timeout: 15_000 }, (error) => {
      resolve(error === null);
    });
  });
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    const candidate = path.join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}
