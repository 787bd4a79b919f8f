/**
 * The Testing view phase: open the Test Explorer, expand the env's tree (collected by the
 * server), run one failing test from its row, and read its state and the failure's peek
 * (message and the expected/actual diff). Every wait is on the DOM.
 */

import * as path from "node:path";

import type { Locator, Page } from "playwright-core";

import { normalise, openFile, runCommand } from "./workbench";

export interface TestingConfig {
  /** Tree labels to expand, outermost first: env, folder, file. */
  readonly expand: readonly string[];
  /** The test file, relative to the workspace folder (opened so the peek has an editor). */
  readonly testFile: string;
  readonly failingTest: string;
  readonly passingTest: string;
  readonly artifacts: string;
  readonly runTimeoutMs: number;
}

export interface TestingSeen {
  /** Labels of the explorer's rows once expanded, indented by depth. */
  rows?: string[];
  /** The failing test's state icon class after its run. */
  failedState?: string;
  /** The passing test's state icon class after that run (it was not run). */
  otherState?: string;
  /** The peek's title (the message). */
  peekMessage?: string;
  /** The two sides of the diff editor in the peek. */
  diffOriginal?: string;
  diffModified?: string;
  screenshot?: string;
}

const STATE = /codicon-testing-([a-z]+)-icon/;

export async function testingPhase(
  page: Page,
  config: TestingConfig,
  seen: TestingSeen,
  step: (name: string) => void,
): Promise<void> {
  step("open the test file and the Test Explorer");
  await openFile(page, config.testFile);
  await runCommand(page, "Testing: Focus on Test Explorer View");
  const explorer = page.locator(".test-explorer");
  await explorer.waitFor();
  for (const label of config.expand) {
    step(`expand ${label}`);
    const row = testRow(page, label);
    await row.waitFor({ timeout: config.runTimeoutMs });
    if ((await row.getAttribute("aria-expanded")) !== "true") {
      await row.locator(".monaco-tl-twistie").click();
    }
    await row.and(page.locator('[aria-expanded="true"]')).waitFor({ timeout: config.runTimeoutMs });
  }
  const failing = testRow(page, config.failingTest);
  const passing = testRow(page, config.passingTest);
  await failing.waitFor();
  await passing.waitFor();
  seen.rows = [];
  for (const row of await explorer.locator(".monaco-list-row").all()) {
    const level = Number((await row.getAttribute("aria-level")) ?? "1");
    const label = await row.locator(".testing-stdtree-container > .label").first().innerText();
    seen.rows.push(`${"  ".repeat(level - 1)}${label.trim()}`);
  }

  step(`run ${config.failingTest} from its row`);
  await failing.hover();
  await failing.locator('.action-label[aria-label^="Run Test"]').click();
  await failing.locator(".computed-state.codicon-testing-failed-icon").waitFor({ timeout: config.runTimeoutMs });
  seen.failedState = await stateOf(failing);
  seen.otherState = await stateOf(passing);

  step("open the failure's peek");
  await runCommand(page, "Test: Go to Next Test Failure");
  const peek = page.locator(".test-output-peek");
  await peek.waitFor();
  const diff = peek.locator(".monaco-diff-editor");
  await diff.waitFor();
  seen.peekMessage = normalise(await peek.locator(".peekview-title").first().innerText()).trim();
  seen.diffOriginal = normalise(await diff.locator(".editor.original .view-lines").innerText()).trim();
  seen.diffModified = normalise(await diff.locator(".editor.modified .view-lines").innerText()).trim();
  const file = path.join(config.artifacts, "vscode-testing.png");
  await page.screenshot({ path: file });
  seen.screenshot = file;
}

/** The explorer row whose label is exactly `label`. */
function testRow(page: Page, label: string): Locator {
  return page
    .locator(".test-explorer .monaco-list-row")
    .filter({ has: page.locator(".testing-stdtree-container > .label", { hasText: new RegExp(`^\\s*${escape(label)}(?![\\w.])`) }) })
    .first();
}

async function stateOf(row: Locator): Promise<string> {
  const className = (await row.locator(".computed-state").getAttribute("class")) ?? "";
  return STATE.exec(className)?.[1] ?? className;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
