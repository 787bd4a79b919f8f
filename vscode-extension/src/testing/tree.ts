/**
 * The Testing view's tree as plain data: `tox/discover`'s JSON → item specs (env → folder →
 * file → class → test → case, collection errors as errored items where they happened), the
 * ancestry of an id, and which ids a selection (include minus exclude) sends to
 * `tox/runTests`. Pure: the VS Code side (controller.ts) only copies specs onto TestItems.
 */

import type { CollectionError, EnvTree, NodeKind, Range, TreeNode } from "./protocol";

/** What one TestItem should look like. */
export interface ItemSpec {
  /** The TestItem's id: the bridge's id, except for an env, whose item id is its name. */
  readonly id: string;
  /** What `tox/runTests` gets for this item. */
  readonly wireId: string;
  readonly label: string;
  readonly kind: NodeKind;
  readonly uri?: string;
  readonly range?: Range;
  /** A collection error: the item shows as errored with this text. */
  readonly error?: string;
  readonly children: readonly ItemSpec[];
}

export const ID_SEPARATOR = "|";

/** The env an id belongs to: `py` for `py|tests/test_a.py::test_b` and for `py`. */
export function envOf(id: string): string {
  const at = id.indexOf(ID_SEPARATOR);
  return at < 0 ? id : id.slice(0, at);
}

/** The env's tree: its children specs, and the id that runs the whole env. */
export function envSpec(tree: EnvTree): ItemSpec {
  const [only] = tree.items;
  const envNode = tree.items.length === 1 && only?.kind === "env" ? only : undefined;
  const nodes = envNode === undefined ? tree.items : envNode.children;
  const children = nodes.map(nodeSpec);
  // An error with the env's own id: tox could not run the env at all.
  const isEnv = (id: string) => id === tree.env || id === `${tree.env}${ID_SEPARATOR}`;
  const envErrors = tree.errors.filter((error) => isEnv(error.id)).map((error) => error.message);
  for (const error of tree.errors) {
    if (!isEnv(error.id)) addError(children, error);
  }
  const spec: ItemSpec = {
    id: tree.env,
    wireId: envNode?.id ?? tree.env,
    label: tree.env,
    kind: "env",
    children,
  };
  return envErrors.length > 0 ? { ...spec, error: envErrors.join("\n\n") } : spec;
}

function nodeSpec(node: TreeNode): ItemSpec {
  const spec: { -readonly [K in keyof ItemSpec]: ItemSpec[K] } = {
    id: node.id,
    wireId: node.id,
    label: node.label,
    kind: node.kind,
    children: node.children.map(nodeSpec),
  };
  if (node.uri !== undefined) spec.uri = node.uri;
  if (node.range !== undefined) spec.range = node.range;
  return spec;
}

type MutableSpec = { -readonly [K in keyof ItemSpec]: ItemSpec[K] } & { children: MutableSpec[] };

/**
 * Puts a collection error on the item it names, or, when discovery has no such item (a
 * file that did not import has no tests), on a new file item under its nearest ancestor.
 */
function addError(roots: ItemSpec[], error: CollectionError): void {
  const index = new Map<string, MutableSpec>();
  const walk = (specs: readonly ItemSpec[]) => {
    for (const spec of specs) {
      index.set(spec.id, spec as MutableSpec);
      walk(spec.children);
    }
  };
  walk(roots);
  const existing = index.get(error.id);
  if (existing !== undefined) {
    existing.error = error.message;
    if (error.range !== undefined) existing.range = error.range;
    return;
  }
  const spec: MutableSpec = {
    id: error.id,
    wireId: error.id,
    label: errorLabel(error.id),
    kind: "file",
    error: error.message,
    children: [],
  };
  if (error.uri !== undefined) spec.uri = error.uri;
  if (error.range !== undefined) spec.range = error.range;
  const parent = ancestorIds(error.id)
    .map((id) => index.get(id))
    .find((candidate) => candidate !== undefined);
  (parent?.children ?? (roots as MutableSpec[])).push(spec);
}

function errorLabel(id: string): string {
  const key = id.slice(id.indexOf(ID_SEPARATOR) + 1).replace(/\/$/, "");
  return key.slice(key.lastIndexOf("/") + 1) || id;
}

/**
 * The ids that may hold `id`, nearest first, ending with its env:
 * `py|t/test_a.py::C::f[1]` → `…::C::f`, `…::C`, `py|t/test_a.py`, `py|t/`, `py|t`, `py`.
 * Folders are tried with and without their trailing slash.
 */
export function ancestorIds(id: string): string[] {
  const at = id.indexOf(ID_SEPARATOR);
  if (at < 0) {
    return [];
  }
  const env = id.slice(0, at);
  let key = id.slice(at + 1);
  const out: string[] = [];
  const qualified = key.indexOf("::");
  if (qualified >= 0) {
    const bracket = key.indexOf("[", qualified);
    if (bracket >= 0 && key.endsWith("]")) {
      key = key.slice(0, bracket);
      out.push(`${env}${ID_SEPARATOR}${key}`);
    }
    for (let end = key.lastIndexOf("::"); end >= 0; end = key.lastIndexOf("::")) {
      key = key.slice(0, end);
      out.push(`${env}${ID_SEPARATOR}${key}`);
    }
  }
  const parts = key.replace(/\/$/, "").split("/");
  for (let depth = parts.length - 1; depth >= 1; depth -= 1) {
    const folder = parts.slice(0, depth).join("/");
    out.push(`${env}${ID_SEPARATOR}${folder}/`, `${env}${ID_SEPARATOR}${folder}`);
  }
  out.push(env, `${env}${ID_SEPARATOR}`);
  return out.filter((candidate) => candidate !== id);
}

/** The part of the tree that selections work on. */
export interface SelectNode {
  readonly id: string;
  readonly wireId: string;
  readonly uri?: string;
  readonly children: readonly SelectNode[];
}

/**
 * The fewest nodes that run exactly `include` minus `exclude`: an included node with no
 * excluded node inside is taken whole; one with excluded nodes inside is replaced by its
 * children, recursively. `include` undefined means every root.
 */
export function selectNodes(
  roots: readonly SelectNode[],
  include: readonly SelectNode[] | undefined,
  exclude: ReadonlySet<string>,
): SelectNode[] {
  const chosen: SelectNode[] = [];
  const visit = (node: SelectNode) => {
    if (exclude.has(node.id)) {
      return;
    }
    if (!containsAny(node, exclude)) {
      chosen.push(node);
      return;
    }
    node.children.forEach(visit);
  };
  (include ?? roots).forEach(visit);
  return chosen;
}

function containsAny(node: SelectNode, ids: ReadonlySet<string>): boolean {
  if (ids.size === 0) {
    return false;
  }
  return node.children.some((child) => ids.has(child.id) || containsAny(child, ids));
}

/** The nodes inside `selected` that belong to the file `uri` (the file or parts of it). */
export function nodesOfFile(selected: readonly SelectNode[], uri: string): SelectNode[] {
  const found: SelectNode[] = [];
  const visit = (node: SelectNode) => {
    if (node.uri === uri) {
      found.push(node);
      return;
    }
    node.children.forEach(visit);
  };
  selected.forEach(visit);
  return found;
}

/**
 * Continuous run after saves: the saved files' tests within the watched selection first,
 * then the rest of the selection. Saves of files with no tests in them give one batch.
 */
export function continuousBatches(
  watched: readonly SelectNode[],
  savedUris: readonly string[],
): SelectNode[][] {
  const first = savedUris.flatMap((uri) => nodesOfFile(watched, uri));
  if (first.length === 0) {
    return watched.length === 0 ? [] : [[...watched]];
  }
  const rest = selectNodes(watched, watched, new Set(first.map((node) => node.id)));
  return rest.length === 0 ? [first] : [first, rest];
}

/** The ids `tox/runTests` gets, once each, in order. */
export function wireIds(nodes: readonly SelectNode[]): string[] {
  return [...new Set(nodes.map((node) => node.wireId))];
}
