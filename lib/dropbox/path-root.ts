/**
 * The `Dropbox-API-Path-Root` header for `dropbox/path-root`. In `auto`, paths are relative to the account's root
 * namespace (the team space when the account has one, so the base folder lands where the whole team sees it); in
 * `home`, no header is sent and paths are relative to the member's own folder.
 */
import { raceSignal } from './tokens.ts';

/** How file paths are rooted. */
export type PathRootMode = 'auto' | 'home';

/** The namespace facts of `users/get_current_account`'s `root_info`. */
export interface RootInfo {
  readonly rootNamespaceId: string;
  readonly homeNamespaceId: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a `RootInfo` (`{ .tag, root_namespace_id, home_namespace_id }`) from an API value. */
export function parseRootInfo(value: unknown): RootInfo | undefined {
  if (!isRecord(value)) return undefined;
  const root = value.root_namespace_id;
  const home = value.home_namespace_id;
  if (typeof root !== 'string' || typeof home !== 'string' || root === '' || home === '') return undefined;
  return { rootNamespaceId: root, homeNamespaceId: home };
}

/** The header value for a root, or `undefined` when the root is the home namespace (no header needed). */
export function formatPathRootHeader(root: RootInfo): string | undefined {
  if (root.rootNamespaceId === root.homeNamespaceId) return undefined;
  return JSON.stringify({ '.tag': 'root', root: root.rootNamespaceId });
}

/** Resolves and caches the path root header; reads the account at most once at a time. */
export class PathRootResolver {
  readonly #mode: PathRootMode;
  readonly #readRoot: (signal?: AbortSignal) => Promise<RootInfo>;
  #root: RootInfo | undefined;
  #inflight: Promise<RootInfo> | undefined;

  constructor(mode: PathRootMode, readRoot: (signal?: AbortSignal) => Promise<RootInfo>) {
    this.#mode = mode;
    this.#readRoot = readRoot;
  }

  /** The header value for file calls; `undefined` sends none. */
  async header(signal?: AbortSignal): Promise<string | undefined> {
    if (this.#mode === 'home') return undefined;
    const root = this.#root ?? (await this.#read(signal));
    return formatPathRootHeader(root);
  }

  /** Records what a call learnt about the account's root (`users/get_current_account`). */
  remember(root: RootInfo): void {
    this.#root = root;
  }

  /**
   * After `422 invalid_root`: the account's root changed (it joined or left a team). Takes the latest root from
   * the error (Dropbox sends it as `invalid_root`), or reads the account again.
   */
  async reload(routeError: unknown, signal?: AbortSignal): Promise<void> {
    if (this.#mode === 'home') return;
    const latest = isRecord(routeError) ? parseRootInfo(routeError.invalid_root) : undefined;
    this.#root = latest ?? (await this.#read(signal, true));
  }

  #read(signal: AbortSignal | undefined, force = false): Promise<RootInfo> {
    if (force) this.#root = undefined;
    if (this.#inflight === undefined) {
      // Shared by every waiting call, so no one caller's signal may cancel it.
      this.#inflight = this.#readRoot()
        .then((root) => {
          this.#root = root;
          return root;
        })
        .finally(() => {
          this.#inflight = undefined;
        });
    }
    return raceSignal(this.#inflight, signal);
  }
}
