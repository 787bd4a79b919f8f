/**
 * The Testing view phase: open the Test Explorer, expand the env's tree (collected by the
 * server), run one failing test from its row, and read its state and the failure's peek
 * (message and the expected/actual diff). Every wait is on the DOM.
 */

import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import * as path from "node:path";

import type { Locator, Page } from "playwright-core";

import { normalise, openFile, runCommand } from "./workbench";

export interface TestingConfig {
  /** Tree labels to expand, outermost first: env, folder, file. */
  readonly expand: readonly string[];
  /** The test file, relative to the workspace folder (opened so the peek has an editor). */
  readonly testFile: string;
  readonly failingTest: string;
  /** The first line of failingTest's failure message, as the Test Results tree shows it. */
  readonly failureMessage: string;
  readonly passingTest: string;
  readonly artifacts: string;
  readonly runTimeoutMs: number;
  /** A `toxbridge run` for a terminal: its results must show up in the Testing view. */
  readonly terminal: readonly string[];
  /** The server's copy of testFile (a bind mount would update it with the editor's save). */
  readonly serverTestFile: string;
  /** The failing line's fix: [line number, its new text]. */
  readonly fix: readonly [number, string];
  /** A test that waits until it is stopped, and the file where it writes its pid (server side). */
  readonly slowTest: string;
  readonly slowPidFile: string;
  /** The file passingTest touches each time it runs (server side). */
  readonly passingMarkFile: string;
}

export interface TestingSeen {
  /** Labels of the explorer's rows once expanded, indented by depth. */
  rows?: string[];
  /** The text the explorer shows for a file that could not be collected. */
  collectionError?: string;
  /** The failing test's state icon class after its run. */
  failedState?: string;
  /** The passing test's state icon class after that run (it was not run). */
  otherState?: string;
  /** The failing test's row in the Test Results tree (its name and message). */
  peekMessage?: string;
  /** The two sides of the diff editor that the message opens. */
  diffOriginal?: string;
  diffModified?: string;
  screenshot?: string;
  /** The status bar after "Test: Cancel Test Run" stopped the slow test. */
  statusAfterCancel?: string;
  /** The terminal run's exit status. */
  terminalExit?: number | null;
  /** Run names in the Test Results tree after the terminal run. */
  resultRuns?: string[];
  /** passingTest's state after the terminal run (it ran there, not from the view). */
  stateAfterTerminal?: string;
  /** failingTest's state after its fix was saved with continuous run on. */
  stateAfterSave?: string;
  /** The editor's gutter after failingTest's run: test icons, and how many show failed. */
  gutterIcons?: number;
  gutterFailed?: number;
  /** The testing items of the editor's context menu on passingTest's def line. */
  contextMenu?: string[];
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
  // a file pytest could not collect: an errored item, its error's text shown under it
  const error = explorer.locator(".monaco-list-row .error").first();
  await error.waitFor();
  seen.collectionError = normalise(await error.innerText()).trim();
  seen.rows = [];
  for (const row of await explorer.locator(".monaco-list-row").all()) {
    const level = Number((await row.getAttribute("aria-level")) ?? "1");
    const label = row.locator(".testing-stdtree-container > .label");
    const text = (await label.count()) > 0 ? await label.first().innerText() : "(error)";
    seen.rows.push(`${"  ".repeat(level - 1)}${text.trim()}`);
  }

  step(`run ${config.failingTest} from its row`);
  await failing.hover();
  await failing.locator('.action-label[aria-label^="Run Test"]').click();
  await failing.locator(".computed-state.codicon-testing-failed-icon").waitFor({ timeout: config.runTimeoutMs });
  seen.failedState = await stateOf(failing);
  seen.otherState = await stateOf(passing);

  step("open the failure's message in the Test Results panel");
  const results = page.locator(".test-output-peek-tree").last();
  await results.waitFor();
  const resultRow = results
    .locator(".monaco-list-row", { hasText: config.failingTest })
    .filter({ has: page.locator(".codicon-testing-failed-icon") })
    .first();
  await resultRow.waitFor();
  // With one message the row carries it as its description, and selecting the row shows
  // the message's diff beside the tree. The tree draws the failed row first with the test's
  // location as its description and redraws it with the message a moment later: wait for
  // that redraw (a timeout here means the message never reached the tree).
  await resultRow.filter({ hasText: config.failureMessage }).waitFor({ timeout: config.runTimeoutMs });
  seen.peekMessage = normalise(await resultRow.innerText()).trim();
  await resultRow.click();
  const diff = page.locator(".monaco-diff-editor").first();
  await diff.waitFor();
  seen.diffOriginal = normalise(await diff.locator(".editor.original .view-lines").innerText()).trim();
  seen.diffModified = normalise(await diff.locator(".editor.modified .view-lines").innerText()).trim();
  // tox has exited (the status bar's last result), so the picture shows the finished run
  await page
    .locator('[id="toxbridge.toxbridge.toxbridge.status"]', { hasText: /tox: failed/ })
    .waitFor({ timeout: config.runTimeoutMs });
  const file = path.join(config.artifacts, "vscode-testing.png");
  await page.screenshot({ path: file });
  seen.screenshot = file;
  await gutter(page, seen, step);

  await cancelRun(page, config, seen, step);
  await terminalRun(page, config, seen, step, passing);
  await continuousRun(page, config, seen, step, failing);
  await runAtCursor(page, config, seen, step);
}

/** The editor's gutter: an icon per test of the open file and one for the file itself, each
 * in its state (the file's: its tests' worst). */
async function gutter(page: Page, seen: TestingSeen, step: (name: string) => void): Promise<void> {
  step("the editor's gutter shows each test's state");
  const icons = page.locator(".editor-group-container .monaco-editor .testing-run-glyph");
  await icons.and(page.locator(".codicon-testing-failed-icon")).first().waitFor();
  seen.gutterIcons = await icons.count();
  seen.gutterFailed = await icons.and(page.locator(".codicon-testing-failed-icon")).count();
}

/** "Run Test at Cursor" from the editor's context menu, on passingTest's def line. */
async function runAtCursor(
  page: Page,
  config: TestingConfig,
  seen: TestingSeen,
  step: (name: string) => void,
): Promise<void> {
  step(`run ${config.passingTest} from the editor's context menu`);
  const def = page
    .locator(".editor-group-container .monaco-editor .view-line", {
      hasText: new RegExp(`def\\s+${escape(config.passingTest)}\\(`),
    })
    .first();
  await def.click();
  await def.click({ button: "right" });
  // an item's label, without the keybinding shown beside it
  const items = page.locator(".monaco-menu .action-item .action-label");
  const runItem = items.filter({ hasText: /^\s*Run Test at Cursor\s*$/ }).first();
  await runItem.waitFor();
  seen.contextMenu = (await items.allInnerTexts())
    .map((text) => normalise(text).trim())
    .filter((text) => text.includes("Test"));
  rmSync(config.passingMarkFile, { force: true });
  const ran = fileCreated(config.passingMarkFile);
  // as for continuous run: a menu item takes Enter, not a click right after the menu opened
  await runItem.hover();
  await page.keyboard.press("Enter");
  await ran;
  await page
    .locator('[id="toxbridge.toxbridge.toxbridge.status"]', { hasText: /tox: passed/ })
    .waitFor({ timeout: config.runTimeoutMs });
}

async function cancelRun(
  page: Page,
  config: TestingConfig,
  seen: TestingSeen,
  step: (name: string) => void,
): Promise<void> {
  step(`run ${config.slowTest}, then cancel it once it runs`);
  const slow = testRow(page, config.slowTest);
  const started = fileCreated(config.slowPidFile);
  await slow.hover();
  await slow.locator('.action-label[aria-label^="Run Test"]').click();
  await started;
  // the Testing view's own stop button ("Cancel Test Run"), shown while a run is going
  await page.locator('.sidebar .title-actions .action-label[aria-label^="Cancel Test Run"]').first().click();
  const status = page.locator('[id="toxbridge.toxbridge.toxbridge.status"]', { hasText: /tox: cancelled/ });
  await status.waitFor({ timeout: config.runTimeoutMs });
  seen.statusAfterCancel = normalise(await status.innerText()).trim();
}

/** Resolves once `file` exists (watching its directory, no polling). */
function fileCreated(file: string): Promise<void> {
  return new Promise((resolve) => {
    const watcher = watch(path.dirname(file), () => {
      if (existsSync(file)) {
        watcher.close();
        resolve();
      }
    });
    if (existsSync(file)) {
      watcher.close();
      resolve();
    }
  });
}

async function terminalRun(
  page: Page,
  config: TestingConfig,
  seen: TestingSeen,
  step: (name: string) => void,
  passing: Locator,
): Promise<void> {
  step("a toxbridge run in a terminal");
  const [command, ...args] = config.terminal;
  if (command === undefined) {
    throw new Error("terminal: no command");
  }
  seen.terminalExit = await new Promise<number | null>((resolve) => {
    execFile(command, args, { timeout: config.runTimeoutMs }, (error) => {
      resolve(error === null ? 0 : typeof error.code === "number" ? error.code : null);
    });
  });
  await passing.locator(".computed-state.codicon-testing-passed-icon").waitFor({ timeout: config.runTimeoutMs });
  seen.stateAfterTerminal = await stateOf(passing);
  const runs = page.locator('.test-output-peek-tree .monaco-list-row[aria-level="1"]');
  await runs.filter({ hasText: "(elsewhere)" }).first().waitFor();
  seen.resultRuns = (await runs.allInnerTexts()).map((text) => normalise(text).trim());
}

async function continuousRun(
  page: Page,
  config: TestingConfig,
  seen: TestingSeen,
  step: (name: string) => void,
  failing: Locator,
): Promise<void> {
  step("turn on continuous run for the test file");
  const fileRow = testRow(page, path.basename(config.testFile));
  await fileRow.click({ button: "right" });
  const turnOn = page.locator(".monaco-menu .action-item", { hasText: "Turn on Continuous Run" }).first();
  await turnOn.waitFor();
  // a menu ignores a click that comes right after it opened (VS Code's guard against the
  // right-click's own mouseup): focus the item and press Enter, which it always takes
  await turnOn.hover();
  await page.keyboard.press("Enter");
  await turnOn.waitFor({ state: "hidden" });

  step("fix the failing line in the editor and save");
  const [line, text] = config.fix;
  const lines = readFileSync(config.serverTestFile, "utf8").split("\n");
  lines[line - 1] = text;
  writeFileSync(config.serverTestFile, lines.join("\n"));
  await page.locator(".editor-group-container .monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+G");
  await page.keyboard.type(String(line));
  await page.keyboard.press("Enter");
  await page.keyboard.press("Home");
  await page.keyboard.press("Shift+End");
  await page.keyboard.type(text.trimStart());
  await page.keyboard.press("Control+S");
  await failing.locator(".computed-state.codicon-testing-passed-icon").waitFor({ timeout: config.runTimeoutMs });
  seen.stateAfterSave = await stateOf(failing);
}

/** The explorer row whose label is exactly `label` (after a run followed by its duration). */
function testRow(page: Page, label: string): Locator {
  const text = new RegExp(`^\\s*${escape(label)}(?:\\d+(?:\\.\\d+)?\\s*m?s)?\\s*$`);
  return page
    .locator(".test-explorer .monaco-list-row")
    .filter({ has: page.locator(".testing-stdtree-container > .label", { hasText: text }) })
    .first();
}

async function stateOf(row: Locator): Promise<string> {
  const className = (await row.locator(".computed-state").getAttribute("class")) ?? "";
  return STATE.exec(className)?.[1] ?? className;
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
