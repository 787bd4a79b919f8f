/** Workbench gestures shared by the e2e phases: the palette, Quick Open, notifications. */

import * as path from "node:path";

import type { Locator, Page } from "playwright-core";

/** F1, type the command's title, wait for it in the list, Enter. */
export async function runCommand(page: Page, title: string, closes = true): Promise<void> {
  await page.keyboard.press("Escape");
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor();
  await input.fill(`>${title}`);
  await page
    .locator(".quick-input-widget .monaco-list-row", { hasText: title })
    .first()
    .waitFor();
  await page.keyboard.press("Enter");
  if (closes) {
    await page.locator(".quick-input-widget").waitFor({ state: "hidden" });
  }
}

/** Quick Open (Ctrl+P) a workspace file. */
export async function openFile(page: Page, relativePath: string): Promise<void> {
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input.input");
  await input.waitFor();
  await input.fill(relativePath);
  await page
    .locator(".quick-input-widget .monaco-list-row", { hasText: path.basename(relativePath) })
    .first()
    .waitFor();
  await page.keyboard.press("Enter");
  await page
    .locator(".tabs-container .tab.active", { hasText: path.basename(relativePath) })
    .waitFor();
}

export function notification(page: Page, text: string): Locator {
  return page.locator(".notifications-toasts .notification-toast", { hasText: text }).first();
}

/** Monaco renders spaces as no-break spaces (so patterns on its text use \\s). */
export function normalise(text: string): string {
  return text.replace(/\u00a0/g, " ");
}
