/**
 * Decoding `tox/output` text for the Output channel: ANSI escape sequences removed, CRLF
 * turned into LF. Batches may split a sequence anywhere, so each stream keeps the
 * unfinished tail of the previous batch. Pure.
 */

/* eslint-disable no-control-regex -- matching escape sequences is what this module is for */

const ESC = "\u001b";
// CSI (colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or ESC \\), an
// unfinished CSI or OSC at the very end of a batch (held for the next one), and the
// two-character escapes.
const SEQUENCE =
  /\u001b(?:\[[0-?]*[ -/]*[@-~]|\][^\u0007\u001b]*(?:\u0007|\u001b\\)|(?<unfinished>(?:\[[0-?]*[ -/]*|\][^\u0007\u001b]*\u001b?)?$)|[@-Z\\^_])/g;
/** An unfinished sequence longer than this is not one: drop it rather than hold it. */
const MAX_HELD = 256;

export class AnsiStripper {
  private held = "";
  private carriageReturn = "";

  /** Returns the text of `chunk` that can be shown now. */
  push(chunk: string): string {
    const text = this.held + chunk;
    this.held = "";
    let out = this.carriageReturn;
    this.carriageReturn = "";
    let last = 0;
    for (const match of text.matchAll(SEQUENCE)) {
      out += text.slice(last, match.index);
      last = match.index + match[0].length;
      if (match.groups?.unfinished !== undefined && match[0].length <= MAX_HELD) {
        this.held = match[0];
      }
    }
    out = (out + text.slice(last)).replaceAll(ESC, "");
    if (out.endsWith("\r")) {
      // Maybe the first half of CRLF.
      this.carriageReturn = "\r";
      out = out.slice(0, -1);
    }
    return out.replace(/\r\n/g, "\n");
  }

  /** Whatever is still held at the end of the stream. */
  flush(): string {
    const rest = this.carriageReturn ? "\n" : "";
    this.held = "";
    this.carriageReturn = "";
    return rest;
  }
}

export function stripAnsi(text: string): string {
  const stripper = new AnsiStripper();
  return stripper.push(text) + stripper.flush();
}

export type Stream = "stdout" | "stderr";

export interface OutputEvent {
  readonly runId: string;
  readonly stream: Stream;
  readonly text: string;
}

export function parseOutput(params: unknown): OutputEvent | undefined {
  if (typeof params !== "object" || params === null) {
    return undefined;
  }
  const { runId, stream, text } = params as Record<string, unknown>;
  if (typeof text !== "string" || (stream !== "stdout" && stream !== "stderr")) {
    return undefined;
  }
  return { runId: typeof runId === "string" ? runId : "", stream, text };
}

/** Routes output events to one stripper per run and stream. */
export class OutputDecoder {
  private readonly strippers = new Map<string, AnsiStripper>();

  constructor(private readonly append: (text: string) => void) {}

  write(event: OutputEvent): void {
    const key = `${event.runId}\u0000${event.stream}`;
    let stripper = this.strippers.get(key);
    if (stripper === undefined) {
      stripper = new AnsiStripper();
      this.strippers.set(key, stripper);
    }
    const text = stripper.push(event.text);
    if (text) {
      this.append(text);
    }
  }

  /** Ends a run: flushes what its streams still hold. */
  finish(runId: string): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const key = `${runId}\u0000${stream}`;
      const rest = this.strippers.get(key)?.flush();
      this.strippers.delete(key);
      if (rest) {
        this.append(rest);
      }
    }
  }
}
