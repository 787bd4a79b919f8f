/**
 * The TestItems of the "toxbridge" controller: envs at the root (the `toxbridge.testEnvs`
 * setting, else the server's `tox l`), each one's tests collected on the server with
 * `tox/discover {env}` when it is expanded or run; a refresh button; and a debounced
 * re-discovery, cancelling the one in flight, when a test file or a conftest changes.
 */

import * as vscode from "vscode";

import { Methods } from "../constants";
import { readWorkspaceSettings } from "../vscodeApi";
import { Debouncer } from "./debounce";
import { parseDiscover, type NodeKind, type Range } from "./protocol";
import { ancestorIds, envOf, envSpec, type ItemSpec, type SelectNode } from "./tree";

/** What the testing code needs of the language client (BridgeClient implements it). */
export interface TestBridge {
  request(method: string, params: object, token?: vscode.CancellationToken): Promise<unknown>;
  onNotification(method: string, listener: (params: unknown) => void): vscode.Disposable;
  readonly onDidStart: vscode.Event<void>;
  suspendRunOnSave(suspended: boolean): Promise<void>;
}

export type Log = (line: string) => void;

/** Files whose change can change what pytest collects. */
export const TEST_FILES_GLOB = "**/{test_*.py,*_test.py,conftest.py}";
const REDISCOVER_MS = 500;
const ERROR_ITEM_ID = "toxbridge:error";

interface ItemData {
  readonly wireId: string;
  readonly kind: NodeKind;
}

export interface ItemHint {
  readonly label?: string;
  readonly uri?: string;
  readonly range?: Range;
}

export class TestTree implements vscode.Disposable {
  private readonly data = new WeakMap<vscode.TestItem, ItemData>();
  private readonly index = new Map<string, vscode.TestItem>();
  /** Envs whose tests have been collected at least once. */
  private readonly discovered = new Set<string>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private listing: Promise<void> | undefined;
  private rediscovery: vscode.CancellationTokenSource | undefined;
  private readonly debouncer: Debouncer<string>;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly controller: vscode.TestController,
    private readonly bridge: TestBridge,
    private readonly log: Log,
  ) {
    this.debouncer = new Debouncer(() => REDISCOVER_MS, (envs) => {
      this.rediscover(envs);
    });
    controller.resolveHandler = (item) => this.resolve(item);
    controller.refreshHandler = (token) => this.refresh(token);
    const watcher = vscode.workspace.createFileSystemWatcher(TEST_FILES_GLOB);
    const changed = (uri: vscode.Uri) => {
      this.testFileChanged(uri);
    };
    this.disposables.push(
      watcher,
      watcher.onDidChange(changed),
      watcher.onDidCreate(changed),
      watcher.onDidDelete(changed),
      bridge.onDidStart(() => {
        // A new bridge may point at another server: start over.
        if (this.index.size > 0 || controller.items.size > 0) {
          void this.resolve(undefined);
        }
      }),
    );
  }

  dispose(): void {
    this.debouncer.dispose();
    this.rediscovery?.cancel();
    this.rediscovery?.dispose();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  get(id: string): vscode.TestItem | undefined {
    return this.index.get(id) ?? this.controller.items.get(id);
  }

  wireId(item: vscode.TestItem): string {
    return this.data.get(item)?.wireId ?? item.id;
  }

  isDiscovered(env: string): boolean {
    return this.discovered.has(env);
  }

  /** Collects the envs of `items` (all envs when undefined) that have not been collected. */
  async ensureDiscovered(items: readonly vscode.TestItem[] | undefined, token?: vscode.CancellationToken): Promise<void> {
    if (this.controller.items.size === 0) {
      await this.loadEnvs();
    }
    const envs = new Set((items ?? [...rootItems(this.controller)]).map((item) => envOf(item.id)));
    await Promise.all(
      [...envs].filter((env) => !this.discovered.has(env)).map((env) => this.discover(env, false, token)),
    );
  }

  /**
   * The item for a result's id, made on the spot under its nearest known ancestor when
   * discovery has not seen it (a test added since, or a run from a terminal of an env not
   * yet expanded); the env is then collected again so the tree catches up.
   */
  ensureItem(id: string, hint: ItemHint): vscode.TestItem {
    const known = this.get(id);
    if (known !== undefined) {
      return known;
    }
    const env = envOf(id);
    let parent = ancestorIds(id)
      .map((candidate) => this.get(candidate))
      .find((candidate) => candidate !== undefined);
    if (parent === undefined) {
      parent = this.envItem(env);
    }
    const label = hint.label ?? id.slice(id.lastIndexOf(":") + 1);
    const item = this.controller.createTestItem(id, label, hint.uri === undefined ? undefined : vscode.Uri.parse(hint.uri));
    if (hint.range !== undefined) item.range = toRange(hint.range);
    this.data.set(item, { wireId: id, kind: "test" });
    this.index.set(id, item);
    parent.children.add(item);
    if (this.discovered.has(env)) {
      this.debouncer.trigger(env);
    }
    return item;
  }

  /** The tree below `items` (every env when undefined) as plain data for tree.ts. */
  snapshot(items?: readonly vscode.TestItem[]): SelectNode[] {
    return (items ?? [...rootItems(this.controller)]).map((item) => this.nodeOf(item));
  }

  private nodeOf(item: vscode.TestItem): SelectNode {
    const children: SelectNode[] = [];
    item.children.forEach((child) => children.push(this.nodeOf(child)));
    const node: { -readonly [K in keyof SelectNode]: SelectNode[K] } = { id: item.id, wireId: this.wireId(item), children };
    if (item.uri !== undefined) node.uri = item.uri.toString();
    return node;
  }

  private async resolve(item: vscode.TestItem | undefined): Promise<void> {
    if (item === undefined) {
      await this.loadEnvs();
      return;
    }
    if (this.data.get(item)?.kind === "env") {
      await this.discover(item.id, false);
    }
  }

  private async refresh(token: vscode.CancellationToken): Promise<void> {
    await this.loadEnvs();
    const envs = [...rootItems(this.controller)].filter((item) => this.discovered.has(item.id));
    await Promise.all(envs.map((item) => this.discover(item.id, true, token)));
  }

  /** Lists the envs (one listing at a time: VS Code may ask again while one runs). */
  private loadEnvs(): Promise<void> {
    this.listing ??= this.listEnvs().finally(() => {
      this.listing = undefined;
    });
    return this.listing;
  }

  private async listEnvs(): Promise<void> {
    let envs: string[];
    try {
      envs = await this.envNames();
    } catch (error) {
      const item = this.controller.createTestItem(ERROR_ITEM_ID, "toxbridge");
      item.error = `Could not list the tox environments: ${describe(error)}`;
      this.controller.items.replace([item]);
      this.log(`[testing] ${item.error}`);
      return;
    }
    const items = envs.map((env) => this.envItem(env));
    this.controller.items.replace(items);
    for (const env of [...this.discovered]) {
      if (!envs.includes(env)) this.discovered.delete(env);
    }
  }

  private async envNames(): Promise<string[]> {
    const configured = readWorkspaceSettings().settings.server.testEnvs ?? [];
    if (configured.length > 0) {
      return configured;
    }
    const response = (await this.bridge.request(Methods.envs, {})) as { envs?: unknown };
    return Array.isArray(response.envs) ? response.envs.filter((env) => typeof env === "string") : [];
  }

  private envItem(env: string): vscode.TestItem {
    const existing = this.controller.items.get(env);
    if (existing !== undefined) {
      return existing;
    }
    const item = this.controller.createTestItem(env, env);
    item.canResolveChildren = true;
    this.data.set(item, { wireId: env, kind: "env" });
    this.controller.items.add(item);
    return item;
  }

  /** Collects one env (one request at a time per env: a second call waits for the first). */
  private discover(env: string, refresh: boolean, token?: vscode.CancellationToken): Promise<void> {
    const running = this.inFlight.get(env);
    if (running !== undefined && !refresh) {
      return running;
    }
    const task = this.collect(env, refresh, token).finally(() => {
      if (this.inFlight.get(env) === task) this.inFlight.delete(env);
    });
    this.inFlight.set(env, task);
    return task;
  }

  private async collect(env: string, refresh: boolean, token?: vscode.CancellationToken): Promise<void> {
    const item = this.envItem(env);
    item.busy = true;
    try {
      const response = await this.bridge.request(Methods.discover, { env, refresh }, token);
      if (token?.isCancellationRequested === true) {
        return;
      }
      const tree = parseDiscover(response).find((candidate) => candidate.env === env);
      const spec = envSpec(tree ?? { env, items: [], errors: [] });
      this.data.set(item, { wireId: spec.wireId, kind: "env" });
      this.forgetEnv(env);
      this.apply(item.children, spec.children);
      item.error = spec.error;
      item.canResolveChildren = false;
      this.discovered.add(env);
    } catch (error) {
      if (token?.isCancellationRequested !== true) {
        item.error = `Discovery failed: ${describe(error)}`;
        this.log(`[testing] ${env}: ${item.error}`);
      }
    } finally {
      item.busy = false;
    }
  }

  private forgetEnv(env: string): void {
    for (const id of [...this.index.keys()]) {
      if (envOf(id) === env) this.index.delete(id);
    }
  }

  /** Copies specs onto items, reusing an item of the same id and file (keeps it expanded). */
  private apply(collection: vscode.TestItemCollection, specs: readonly ItemSpec[]): void {
    const items = specs.map((spec) => {
      const uri = spec.uri === undefined ? undefined : vscode.Uri.parse(spec.uri);
      let item = collection.get(spec.id);
      if (item?.uri?.toString() !== uri?.toString()) {
        item = undefined;
      }
      item ??= this.controller.createTestItem(spec.id, spec.label, uri);
      item.label = spec.label;
      item.range = spec.range === undefined ? undefined : toRange(spec.range);
      item.error = spec.error;
      this.data.set(item, { wireId: spec.wireId, kind: spec.kind });
      this.index.set(spec.id, item);
      this.apply(item.children, spec.children);
      return item;
    });
    collection.replace(items);
  }

  private testFileChanged(uri: vscode.Uri): void {
    if (this.discovered.size === 0 || uri.path.includes("/.tox/")) {
      return;
    }
    // Results of the collection in flight describe the old files.
    this.rediscovery?.cancel();
    for (const env of this.discovered) {
      this.debouncer.trigger(env);
    }
  }

  private rediscover(envs: readonly string[]): void {
    this.rediscovery?.cancel();
    this.rediscovery?.dispose();
    const source = new vscode.CancellationTokenSource();
    this.rediscovery = source;
    for (const env of envs) {
      if (this.discovered.has(env)) void this.discover(env, true, source.token);
    }
  }
}

export function rootItems(controller: vscode.TestController): vscode.TestItem[] {
  const items: vscode.TestItem[] = [];
  controller.items.forEach((item) => {
    if (item.id !== ERROR_ITEM_ID) items.push(item);
  });
  return items;
}

export function toRange(range: Range): vscode.Range {
  return new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
