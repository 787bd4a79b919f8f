/**
 * One tox run from the palette: `tox/run` with a work-done token, shown as a cancellable
 * progress notification. Cancel sends `window/workDoneProgress/cancel`, which the bridge
 * turns into a real cancel of the remote run; the request then resolves with
 * `cancelled: true`. Written against small interfaces so it is unit-tested without VS Code.
 */

import { randomUUID } from "node:crypto";

import { Methods } from "./constants";
import { parseRunResponse, type RunResponse } from "./messages";

export interface WorkDoneValue {
  readonly kind: "begin" | "report" | "end";
  readonly title?: string;
  readonly message?: string;
  readonly percentage?: number;
}

export interface Disposable {
  dispose(): void;
}

export interface RunConnection {
  request(method: string, params: object): Promise<unknown>;
  notify(method: string, params: object): Promise<void>;
  onProgress(token: string, handler: (value: WorkDoneValue) => void): Disposable;
}

export interface ProgressSink {
  report(message: string | undefined, increment?: number): void;
}

export interface RunUi {
  withCancellableProgress<T>(
    title: string,
    task: (sink: ProgressSink, onCancel: (listener: () => void) => void) => Promise<T>,
  ): Promise<T>;
}

export const WORK_DONE_CANCEL = "window/workDoneProgress/cancel";

export class RunController {
  constructor(
    private readonly connection: RunConnection,
    private readonly ui: RunUi,
    private readonly newToken: () => string = () => `toxbridge-run-${randomUUID()}`,
  ) {}

  async run(args: readonly string[], title: string): Promise<RunResponse> {
    const token = this.newToken();
    return this.ui.withCancellableProgress(title, async (sink, onCancel) => {
      let percentage = 0;
      const subscription = this.connection.onProgress(token, (value) => {
        if (value.kind === "end") {
          return;
        }
        let increment: number | undefined;
        if (value.percentage !== undefined && value.percentage > percentage) {
          increment = value.percentage - percentage;
          percentage = value.percentage;
        }
        // The notification already says what runs; the bridge's title would repeat it.
        if (value.message !== undefined || increment !== undefined) {
          sink.report(value.message, increment);
        }
      });
      onCancel(() => {
        this.connection.notify(WORK_DONE_CANCEL, { token }).catch(() => undefined);
      });
      try {
        const response = await this.connection.request(Methods.run, {
          args: [...args],
          workDoneToken: token,
        });
        return parseRunResponse(response);
      } finally {
        subscription.dispose();
      }
    });
  }
}
