/**
 * Drives a real code-server in headless Chromium (Debian's, through playwright-core) like
 * a person would: palette commands, the progress notification and its Cancel button, the
 * Problems panel and the Output channel. Started by tests/editors/test_vscode_e2e.py,
 * which owns the servers; this script only looks and clicks, and prints one JSON object
 * with what it saw. Every wait is on the DOM (playwright's waitFor), never on a clock.
 *
 *   node out/e2e/drive.js '{"url": "...", "folder": "...", ...}'
 */

import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

import { chromium, type Locator, type Page } from "playwright-core";

import { testingPhase, type TestingConfig, type TestingSeen } from "./testing";
import { normalise, notification, openFile, runCommand } from "./workbench";

interface DriveConfig extends Partial<TestingConfig> {
  /** code-server's address, e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** The workspace folder to open. */
  readonly folder: string;
  /** The file that "Run tox on current file" gets for the cancel check, relative to folder. */
  readonly slowFile: string;
  /** Text the slow test prints once it has started. */
  readonly slowMarker: string;
  /** Where screenshots go. */
  readonly artifacts: string;
  /** Where the JSON result goes. */
  readonly result: string;
  readonly chromium: string;
  /** Upper bound for one tox run, in milliseconds. */
  readonly runTimeoutMs: number;
  /** The workspace's .vscode/settings.json, which the unreachable phase edits. */
  readonly settingsFile: string;
  /**
   * "run": the palette session; "unreachable": the server has been stopped; "testing": the
   * Testing view (testing.ts).
   */
  readonly phase: "run" | "unreachable" | "testing";
}

interface DriveResult {
  steps: string[];
  progressTitle?: string;
  progressHadCancel?: boolean;
  statusAfterRun?: string;
  problemsText?: string;
  outputText?: string;
  cancelProgressTitle?: string;
  statusAfterCancel?: string;
  outputAfterCancel?: string;
  pingText?: string;
  envPickRows?: string[];
  envRunTitle?: string;
  envPickRemembered?: boolean;
  restartLog?: string;
  errorText?: string;
  errorToasts?: number;
  outputShownByButton?: boolean;
  testing?: TestingSeen;
  screenshots: string[];
  error?: string;
}

const UI_TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "{}") as DriveConfig;
  const result: DriveResult = { steps: [], screenshots: [] };
  const browser = await chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  const step = (name: string) => {
    result.steps.push(name);
    console.error(`[drive] ${name}`);
  };
  const screenshot = async (name: string) => {
    const file = path.join(config.artifacts, name);
    await page.screenshot({ path: file });
    result.screenshots.push(file);
  };
  try {
    step("open workbench");
    await page.goto(`${config.url}/?folder=${encodeURIComponent(config.folder)}`);
    await page.locator(".monaco-workbench").waitFor();
    step("wait for the extension's status bar item (bridge running)");
    // The id is the extension's id and the item's id.
    const status = page.locator('[id="toxbridge.toxbridge.toxbridge.status"]');
    await status.locator(".codicon-beaker").waitFor({ timeout: UI_TIMEOUT_MS });
    if (config.phase === "run") {
      await runPhase(page, config, result, status, step, screenshot);
    } else if (config.phase === "testing") {
      result.testing = {};
      await testingPhase(page, testingConfig(config), result.testing, step);
    } else {
      await unreachablePhase(page, config, result, step, screenshot);
    }
    step("done");
  } catch (error) {
    result.error = error instanceof Error ? (error.stack ?? error.message) : String(error);
    await screenshot("vscode-failure.png").catch(() => undefined);
  } finally {
    await browser.close();
    writeFileSync(config.result, JSON.stringify(result, null, 2));
  }
  process.exitCode = result.error === undefined ? 0 : 1;
}

/** The keys the testing phase needs beside the shared artifacts and runTimeoutMs. */
const TESTING_KEYS = [
  "expand",
  "testFile",
  "failingTest",
  "failureMessage",
  "passingTest",
  "terminal",
  "serverTestFile",
  "fix",
  "slowTest",
  "slowPidFile",
  "passingMarkFile",
] as const satisfies readonly (keyof TestingConfig)[];

function testingConfig(config: DriveConfig): TestingConfig {
  const missing = TESTING_KEYS.filter((key) => config[key] === undefined);
  if (missing.length > 0) {
    throw new Error(`the testing phase misses its settings ${missing.join(", ")} (see TestingConfig)`);
  }
  return config as TestingConfig;
}

async function runPhase(
  page: Page,
  config: DriveConfig,
  result: DriveResult,
  status: Locator,
  step: (name: string) => void,
  screenshot: (name: string) => Promise<void>,
): Promise<void> {
  step("run 'Run tox in container'");
  await runCommand(page, "toxbridge: Run tox in container");
  const progress = notification(page, "Running tox");
  await progress.waitFor({ timeout: UI_TIMEOUT_MS });
  result.progressTitle = (await progress.innerText()).trim();
  result.progressHadCancel = await progress
    .locator(".monaco-button", { hasText: "Cancel" })
    .isVisible();
  step("wait for the run to finish");
  await status
    .filter({ hasText: /tox: (failed|passed|cancelled)/ })
    .waitFor({ timeout: config.runTimeoutMs });
  result.statusAfterRun = (await status.innerText()).trim();

  step("focus the Problems panel");
  await runCommand(page, "Problems: Focus on Problems View");
  const markers = page.locator(".markers-panel");
  await markers.locator(".monaco-list-row", { hasText: "test_sample.py" }).first().waitFor();
  await markers.locator(".monaco-list-row", { hasText: /\[Ln \d+, Col \d+\]/ }).first().waitFor();
  result.problemsText = await markers.innerText();
  await screenshot("vscode-problems.png");

  step("show the tox output");
  await runCommand(page, "toxbridge: Show tox output");
  const outputShowing = (text: string | RegExp) =>
    page.locator(".panel .monaco-editor .view-lines").filter({ hasText: text }).first();
  const summary = outputShowing(/exited\swith\scode/);
  await summary.waitFor();
  result.outputText = normalise(await summary.innerText());
  await screenshot("vscode-output.png");

  step("open the slow test and run 'Run tox on current file'");
  await openFile(page, config.slowFile);
  await runCommand(page, "toxbridge: Run tox on current file");
  const cancelProgress = notification(page, `Running tox on ${config.slowFile}`);
  await cancelProgress.waitFor({ timeout: UI_TIMEOUT_MS });
  result.cancelProgressTitle = (await cancelProgress.innerText()).trim();
  step("wait until the slow test runs, then click Cancel");
  await outputShowing(config.slowMarker).waitFor({ timeout: config.runTimeoutMs });
  await cancelProgress.hover();
  await cancelProgress.locator(".monaco-button", { hasText: "Cancel" }).click();
  await status.filter({ hasText: "tox: cancelled" }).waitFor({ timeout: config.runTimeoutMs });
  result.statusAfterCancel = (await status.innerText()).trim();
  const cancelled = outputShowing(/was\scancelled/);
  await cancelled.waitFor();
  result.outputAfterCancel = normalise(await cancelled.innerText());
  await screenshot("vscode-cancelled.png");

  step("ping the server");
  await runCommand(page, "toxbridge: Ping tox server");
  const ping = notification(page, "round trip");
  await ping.waitFor();
  result.pingText = (await ping.innerText()).trim();

  step("run 'Run tox environment…' and pick py");
  result.envPickRows = await pickEnvironment(page, "py");
  const envProgress = notification(page, "Running tox -e py");
  await envProgress.waitFor();
  result.envRunTitle = (await envProgress.innerText()).trim();
  await envProgress.waitFor({ state: "hidden", timeout: config.runTimeoutMs });
  step("the quick pick remembers the last choice");
  await runCommand(page, "toxbridge: Run tox environment…");
  const remembered = envRow(page, "py");
  await remembered.waitFor();
  result.envPickRemembered = await page
    .locator(".quick-input-widget .quick-input-count", { hasText: "1" })
    .isVisible();
  await page.keyboard.press("Escape");
}

/** The server is gone: a run must end in one actionable error with a "Show output" button. */
async function unreachablePhase(
  page: Page,
  config: DriveConfig,
  result: DriveResult,
  step: (name: string) => void,
  screenshot: (name: string) => Promise<void>,
): Promise<void> {
  step("run 'Run tox in container' with the server stopped");
  await runCommand(page, "toxbridge: Run tox in container");
  const error = page
    .locator(".notifications-toasts .notification-toast", {
      has: page.locator(".codicon-error"),
    })
    .first();
  await error.waitFor();
  result.errorText = (await error.innerText()).trim();
  // The bridge's own window/showMessage arrives before the failed response, so once the
  // run's progress is gone every message about this failure is on screen.
  await notification(page, "Running tox").waitFor({ state: "hidden" });
  result.errorToasts = await page
    .locator(".notifications-toasts .notification-toast", { has: page.locator(".codicon-error") })
    .count();
  await screenshot("vscode-unreachable.png");
  step("click 'Show output'");
  await error.hover();
  await error.locator(".monaco-button", { hasText: "Show output" }).click();
  await page
    .locator(".panel .monaco-editor .view-lines")
    .filter({ hasText: /\[error\]/ })
    .first()
    .waitFor();
  result.outputShownByButton = true;

  step("change a launch setting: the bridge restarts");
  const settings = JSON.parse(readFileSync(config.settingsFile, "utf8")) as Record<string, unknown>;
  writeFileSync(config.settingsFile, JSON.stringify({ ...settings, "toxbridge.logLevel": "debug" }));
  const restarted = page
    .locator(".panel .monaco-editor .view-lines")
    .filter({ hasText: /launch\ssettings\schanged/ })
    .first();
  await restarted.waitFor();
  result.restartLog = normalise(await restarted.innerText());
  await page
    .locator('[id="toxbridge.toxbridge.toxbridge.status"] .codicon-beaker')
    .waitFor();
}

/** "Run tox environment…": tick `env` in the multi-select quick pick and accept. */
async function pickEnvironment(page: Page, env: string): Promise<string[]> {
  await runCommand(page, "toxbridge: Run tox environment…", false);
  const rows = page.locator(".quick-input-widget .monaco-list-row");
  const row = envRow(page, env);
  await row.waitFor();
  const labels = (await rows.allInnerTexts()).map((text) => text.trim());
  await row.click();
  await page.locator(".quick-input-widget .quick-input-count", { hasText: "1" }).waitFor();
  await page.locator(".quick-input-widget .monaco-button", { hasText: "OK" }).click();
  await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
  return labels;
}

function envRow(page: Page, env: string): Locator {
  return page
    .locator(".quick-input-widget .monaco-list-row")
    .filter({ has: page.locator(".label-name", { hasText: new RegExp(`^${env}$`) }) })
    .first();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 2;
});
