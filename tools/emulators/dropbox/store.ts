/**
 * The emulated Dropbox account and its files. Files live on disk under the emulator's root at their display path
 * (`<root>/home/Ticket Files/Proof.pdf`, `<root>/team/…` for a team space) so a person can open what was exported;
 * their metadata (id, rev, content hash, timestamps, the first spelling of every path) is kept in
 * `<root>/.dropbox-emulator/index.json`. A file deleted from disk by hand reads as deleted.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createBadRequest, HttpReply } from './http.ts';
import {
  formatDropboxNow,
  generateRenameCandidates,
  isDisallowedName,
  splitPath,
  toLowerPath,
} from './paths.ts';

interface FileEntry {
  readonly tag: 'file';
  readonly id: string;
  readonly name: string;
  readonly pathDisplay: string;
  readonly rev: string;
  readonly size: number;
  readonly contentHash: string;
  readonly clientModified: string;
  readonly serverModified: string;
  readonly seq: number;
}

interface FolderEntry {
  readonly tag: 'folder';
  readonly id: string;
  readonly name: string;
  readonly pathDisplay: string;
  readonly seq: number;
}

interface DeletedEntry {
  readonly tag: 'deleted';
  readonly name: string;
  readonly pathDisplay: string;
  readonly seq: number;
}

type Entry = FileEntry | FolderEntry;

/** `home` (the member's own folder) or `team` (the team space root, when the account has one). */
export type NamespaceLabel = 'home' | 'team';

interface Namespace {
  readonly label: NamespaceLabel;
  readonly entries: Map<string, Entry>;
  readonly deleted: Map<string, DeletedEntry>;
}

/** The emulated account. */
export interface AccountState {
  readonly accountId: string;
  readonly displayName: string;
  readonly email: string;
  homeNamespaceId: string;
  /** Set when the account's root is a team space. */
  teamNamespaceId: string | undefined;
  /** Where the home folder is mounted in the team space. */
  readonly homePath: string;
}

/** Where a path landed: a namespace, the components inside it, and the display prefix of a mount. */
export interface Resolved {
  readonly namespace: NamespaceLabel;
  readonly components: readonly string[];
  /** `''`, or the home folder's path in the team space when a team-rooted path entered it. */
  readonly prefix: string;
}

/** A file to commit: the received bytes and their hash. */
export interface CommitSource {
  readonly file: string;
  readonly size: number;
  readonly contentHash: string;
}

/** `CommitInfo`, checked. */
export interface CommitRequest {
  readonly mode: 'add' | 'overwrite' | { readonly update: string };
  readonly autorename: boolean;
  readonly clientModified: string | undefined;
  /** `strict_conflict`: identical content is a conflict too, and so is `update` on a path whose file is gone. */
  readonly strictConflict?: boolean | undefined;
}

/** A commit's outcome: the file (written or already there), or Dropbox's `WriteError`. */
export type CommitOutcome =
  | { readonly ok: true; readonly metadata: Record<string, unknown> }
  | { readonly ok: false; readonly writeError: Record<string, unknown> };

/** One page of `list_folder`. */
export interface ListPage {
  readonly entries: Record<string, unknown>[];
  readonly cursor: string;
  readonly hasMore: boolean;
}

interface Cursor {
  readonly namespace: NamespaceLabel;
  readonly components: readonly string[];
  readonly prefix: string;
  readonly recursive: boolean;
  readonly includeDeleted: boolean;
  readonly after: number;
}

interface IndexFile {
  readonly version: 1;
  readonly seq: number;
  readonly account: AccountState;
  readonly namespaces: Record<NamespaceLabel, { entries: Entry[]; deleted: DeletedEntry[] }>;
}

const STATE_DIR = '.dropbox-emulator';
const MAX_AUTORENAME = 1000;

function createNamespaceId(): string {
  return String(randomInt(1_000_000_000, 9_999_999_999));
}

function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

function toKey(components: readonly string[]): string {
  return components.length === 0 ? '' : toLowerPath(`/${components.join('/')}`);
}

/** The account, its namespaces and files. */
/** Longest file name most disks take, in bytes of UTF-8. */
const MAX_DISK_NAME_BYTES = 255;

/**
 * The on-disk name of a path component. Dropbox allows 255 UTF-16 units per component, which can be up to 765 bytes
 * of UTF-8, while Linux file systems stop at 255 bytes: a longer name is stored shortened, with a digest of the full
 * name, and the index keeps its Dropbox spelling.
 */
function toDiskName(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_DISK_NAME_BYTES) return name;
  const digest = createHash('sha256').update(name).digest('hex').slice(0, 16);
  let prefix = '';
  for (const char of name) {
    if (Buffer.byteLength(`${prefix}${char}~${digest}`, 'utf8') > MAX_DISK_NAME_BYTES) break;
    prefix += char;
  }
  return `${prefix}~${digest}`;
}

export class DropboxStore {
  readonly root: string;
  readonly account: AccountState;
  readonly #namespaces: Record<NamespaceLabel, Namespace>;
  #seq: number;
  #revCounter = 0;
  readonly #revPrefix = randomBytes(4).toString('hex');
  #persisting: Promise<void> = Promise.resolve();
  #writeQueued = false;
  insufficientSpace = false;

  /** Bytes the account's files take (every namespace), as `users/get_space_usage` reports `used`. */
  usedBytes(): number {
    let used = 0;
    for (const ns of Object.values(this.#namespaces)) {
      for (const entry of ns.entries.values()) if (entry.tag === 'file') used += entry.size;
    }
    return used;
  }

  private constructor(root: string, index: IndexFile) {
    this.root = root;
    this.account = index.account;
    this.#seq = index.seq;
    const load = (label: NamespaceLabel): Namespace => {
      const saved = index.namespaces[label];
      return {
        label,
        entries: new Map(saved.entries.map((entry) => [toLowerPath(entry.pathDisplay), entry])),
        deleted: new Map(saved.deleted.map((entry) => [toLowerPath(entry.pathDisplay), entry])),
      };
    };
    this.#namespaces = { home: load('home'), team: load('team') };
  }

  /** Opens (or creates) the store under `root`; `team` gives the account a team space root. */
  static async open(root: string, team: boolean): Promise<DropboxStore> {
    await mkdir(join(root, STATE_DIR, 'tmp'), { recursive: true });
    await mkdir(join(root, STATE_DIR, 'sessions'), { recursive: true });
    let index: IndexFile;
    try {
      index = JSON.parse(await readFile(join(root, STATE_DIR, 'index.json'), 'utf8')) as IndexFile;
    } catch (error) {
      if (!isMissing(error)) throw error;
      index = {
        version: 1,
        seq: 0,
        account: {
          accountId: 'dbid:AADemulatoremulatoremulatoremulator00',
          displayName: 'Emulator User',
          email: 'emulator@example.com',
          homeNamespaceId: createNamespaceId(),
          teamNamespaceId: undefined,
          homePath: '/Emulator User',
        },
        namespaces: { home: { entries: [], deleted: [] }, team: { entries: [], deleted: [] } },
      };
    }
    const store = new DropboxStore(root, index);
    if (team && store.account.teamNamespaceId === undefined)
      store.account.teamNamespaceId = createNamespaceId();
    if (!team) store.account.teamNamespaceId = undefined;
    await store.persist();
    return store;
  }

  /** A scratch file for a request body, on the same file system as the exported files. */
  tempFile(): string {
    return join(this.root, STATE_DIR, 'tmp', randomBytes(12).toString('hex'));
  }

  /** The folder for upload session data. */
  get sessionsDir(): string {
    return join(this.root, STATE_DIR, 'sessions');
  }

  /** The account's root namespace: the team space, or the home folder. */
  get rootNamespaceId(): string {
    return this.account.teamNamespaceId ?? this.account.homeNamespaceId;
  }

  /** `root_info` of `users/get_current_account` (and of `invalid_root`). */
  rootInfo(): Record<string, unknown> {
    const { teamNamespaceId, homeNamespaceId, homePath } = this.account;
    if (teamNamespaceId === undefined) {
      return { '.tag': 'user', root_namespace_id: homeNamespaceId, home_namespace_id: homeNamespaceId };
    }
    return {
      '.tag': 'team',
      root_namespace_id: teamNamespaceId,
      home_namespace_id: homeNamespaceId,
      home_path: homePath,
    };
  }

  /** The account moves to a new team space root (it joined a team, or its team space was migrated). */
  changeTeamRoot(): void {
    this.account.teamNamespaceId = createNamespaceId();
    this.#schedulePersist();
  }

  /**
   * Resolves a path against the `Dropbox-API-Path-Root` header (and an `ns:` prefix): 400 for a bad header,
   * 422 `invalid_root` for a root that is no longer the account's, 422 `no_permission` for a foreign namespace.
   */
  resolve(
    route: string,
    header: string | undefined,
    path: string,
    allowRoot: boolean,
  ): Resolved | 'malformed_path' {
    let namespace: NamespaceLabel = 'home';
    let rooted = false;
    if (header !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(header);
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        throw createBadRequest(route, 'Dropbox-API-Path-Root: could not decode input as JSON');
      }
      const tag =
        typeof parsed === 'object' && parsed !== null
          ? (parsed as Record<string, unknown>)['.tag']
          : undefined;
      const value = (name: string): unknown => (parsed as Record<string, unknown>)[name];
      if (tag === 'home') {
        namespace = 'home';
      } else if (tag === 'root') {
        if (value('root') !== this.rootNamespaceId) {
          throw new HttpReply(422, {
            error_summary: 'invalid_root/..',
            error: { '.tag': 'invalid_root', invalid_root: this.rootInfo() },
          });
        }
        rooted = true;
      } else if (tag === 'namespace_id') {
        namespace = this.#namespaceById(value('namespace_id'));
        rooted = namespace === 'team';
      } else {
        throw createBadRequest(route, 'Dropbox-API-Path-Root: unknown or missing ".tag"');
      }
    }
    let rest = path;
    const ns = /^ns:(\d+)(\/.*)?$/.exec(path);
    if (ns !== null) {
      namespace = this.#namespaceById(ns[1]);
      rooted = namespace === 'team';
      rest = ns[2] ?? '';
    }
    const components = splitPath(rest, allowRoot);
    if (typeof components === 'string') return components;
    if (rooted && this.account.teamNamespaceId !== undefined) {
      const mount = splitPath(this.account.homePath) as string[];
      const inHome = mount.every(
        (part, i) => components[i] !== undefined && toLowerPath(components[i]) === toLowerPath(part),
      );
      if (inHome)
        return {
          namespace: 'home',
          components: components.slice(mount.length),
          prefix: this.account.homePath,
        };
      return { namespace: 'team', components, prefix: '' };
    }
    return { namespace, components, prefix: '' };
  }

  /** `files/get_metadata` by path. */
  async metadata(target: Resolved, includeDeleted: boolean): Promise<Record<string, unknown> | undefined> {
    const ns = this.#namespaces[target.namespace];
    if (target.components.length === 0) {
      return target.prefix === '' ? undefined : this.#mountMetadata();
    }
    const key = toKey(target.components);
    const entry = await this.#live(ns, key);
    if (entry !== undefined) return this.#describe(entry, target.prefix, true);
    const deleted = ns.deleted.get(key);
    if (includeDeleted && deleted !== undefined) return this.#describeDeleted(deleted, target.prefix);
    return undefined;
  }

  /**
   * `files/get_metadata` by `id:`: the file wherever it is now (a move keeps its id), its path shown from `root`,
   * the namespace the request's `Dropbox-API-Path-Root` resolves to (a home file seen from the team space root
   * carries the home folder's mount path). A deleted file is not found.
   */
  async metadataById(
    id: string,
    root: NamespaceLabel = 'home',
  ): Promise<Record<string, unknown> | undefined> {
    for (const label of ['home', 'team'] as const) {
      for (const [key, entry] of this.#namespaces[label].entries) {
        if (entry.id !== id) continue;
        const live = await this.#live(this.#namespaces[label], key);
        if (live === undefined) return undefined;
        const prefix = label === 'home' && root === 'team' ? this.account.homePath : '';
        return this.#describe(live, prefix, true);
      }
    }
    return undefined;
  }

  /** Writes a received file by Dropbox's write modes; the caller holds the namespace's write lock. */
  async commit(target: Resolved, source: CommitSource, request: CommitRequest): Promise<CommitOutcome> {
    const ns = this.#namespaces[target.namespace];
    const { components } = target;
    if (components.length === 0) return { ok: false, writeError: { '.tag': 'malformed_path' } };
    if (components.some(isDisallowedName)) return { ok: false, writeError: { '.tag': 'disallowed_name' } };
    if (this.insufficientSpace) return { ok: false, writeError: { '.tag': 'insufficient_space' } };
    const parents: string[] = [];
    for (let i = 0; i < components.length - 1; i += 1) {
      const entry = ns.entries.get(toKey(components.slice(0, i + 1)));
      if (entry?.tag === 'file') {
        return { ok: false, writeError: { '.tag': 'conflict', conflict: { '.tag': 'file_ancestor' } } };
      }
      parents.push(entry?.name ?? (components[i] as string));
    }
    const name = components[components.length - 1] as string;
    const existing = await this.#live(ns, toKey(components));
    const strict = request.strictConflict === true;
    const update = typeof request.mode === 'object' ? request.mode.update : undefined;
    if (existing === undefined) {
      // strict_conflict: "always return a conflict error when mode = WriteMode.update and the given rev doesn't
      // match the existing file's rev, even if the existing file has been deleted" (CommitInfo.strict_conflict).
      if (strict && update !== undefined) {
        return { ok: false, writeError: { '.tag': 'conflict', conflict: { '.tag': 'file' } } };
      }
      return this.#write(ns, parents, name, undefined, source, request, target.prefix);
    }
    if (existing.tag === 'file' && existing.contentHash === source.contentHash && !strict) {
      // WriteMode: "If the target path refers to a file with identical contents, nothing gets written; no
      // conflict" (https://www.dropbox.com/developers/documentation/http/documentation#files-upload, WriteMode),
      // whatever the mode; strict_conflict "also forces a conflict even when the target path refers to a file with
      // identical contents". Only the target path itself: see the autorename below.
      return { ok: true, metadata: this.#describe(existing, target.prefix, false) };
    }
    let conflict: 'file' | 'folder' | undefined;
    if (existing.tag === 'folder') conflict = 'folder';
    else if (request.mode === 'add') conflict = 'file';
    else if (update !== undefined && update !== existing.rev) conflict = 'file';
    else if (strict && existing.contentHash === source.contentHash) conflict = 'file';
    if (conflict === undefined && existing.tag === 'file') {
      return this.#write(ns, parents, name, existing, source, request, target.prefix);
    }
    conflict ??= 'file';
    if (!request.autorename) {
      return { ok: false, writeError: { '.tag': 'conflict', conflict: { '.tag': conflict } } };
    }
    // Autorename takes the first free name, whatever the content of the names already taken: Dropbox documents the
    // identical-content no-op for the target path only ("If the target path refers to a file with identical
    // contents"), and says of autorename only that the server tries "to autorename the file to avoid conflict"
    // (UploadArg.autorename), so a renamed copy with the same bytes is a conflict like any other file (the stricter
    // reading). `add` and `overwrite` append a number ("document.txt" might become "document (2).txt"), `update`
    // the string "conflicted copy" (WriteMode).
    const style = typeof request.mode === 'object' ? 'conflicted' : 'number';
    let tries = 0;
    for (const candidate of generateRenameCandidates(name, style)) {
      if (++tries > MAX_AUTORENAME) break;
      const other = await this.#live(ns, toKey([...components.slice(0, -1), candidate]));
      if (other === undefined)
        return this.#write(ns, parents, candidate, undefined, source, request, target.prefix);
    }
    return { ok: false, writeError: { '.tag': 'conflict', conflict: { '.tag': conflict } } };
  }

  /** Where the file at `target` lies on disk (its first spelling), or where it would. */
  diskPathOf(target: Resolved): string {
    const entry = this.#namespaces[target.namespace].entries.get(toKey(target.components));
    return this.#diskPath(target.namespace, entry?.pathDisplay ?? `/${target.components.join('/')}`);
  }

  /**
   * A person moves a file in the Dropbox app (not an API route the product calls): it keeps its id and content and
   * gets a new revision, as a move does; the old path reads as deleted. Returns the file's new metadata.
   */
  async moveFile(from: Resolved, to: Resolved): Promise<Record<string, unknown>> {
    const ns = this.#namespaces[from.namespace];
    const fromKey = toKey(from.components);
    const entry = await this.#live(ns, fromKey);
    if (entry?.tag !== 'file') throw new Error(`moveFile: no file at ${from.components.join('/')}`);
    const target = this.#namespaces[to.namespace];
    const toKeyValue = toKey(to.components);
    if ((await this.#live(target, toKeyValue)) !== undefined) {
      throw new Error(`moveFile: ${to.components.join('/')} is taken`);
    }
    const parents = to.components.slice(0, -1);
    const name = to.components[to.components.length - 1] as string;
    const pathDisplay = `/${to.components.join('/')}`;
    await mkdir(this.#diskPath(target.label, `/${parents.join('/')}`), { recursive: true });
    await rename(this.#diskPath(ns.label, entry.pathDisplay), this.#diskPath(target.label, pathDisplay));
    ns.entries.delete(fromKey);
    this.#seq += 1;
    ns.deleted.set(fromKey, {
      tag: 'deleted',
      name: entry.name,
      pathDisplay: entry.pathDisplay,
      seq: this.#seq,
    });
    this.#seq += 1;
    const moved: FileEntry = { ...entry, name, pathDisplay, rev: this.#newRev(), seq: this.#seq };
    target.entries.set(toKeyValue, moved);
    target.deleted.delete(toKeyValue);
    this.#schedulePersist();
    return this.#describe(moved, to.prefix, true);
  }

  /** One page of `files/list_folder`, or the lookup error's tag. */
  async list(
    target: Resolved,
    recursive: boolean,
    includeDeleted: boolean,
    limit: number,
  ): Promise<ListPage | 'not_found' | 'not_folder'> {
    const ns = this.#namespaces[target.namespace];
    if (target.components.length > 0) {
      const entry = await this.#live(ns, toKey(target.components));
      if (entry === undefined) return 'not_found';
      if (entry.tag === 'file') return 'not_folder';
    }
    return this.#page(
      {
        namespace: target.namespace,
        components: target.components,
        prefix: target.prefix,
        recursive,
        includeDeleted,
        after: 0,
      },
      limit,
    );
  }

  /** `files/list_folder/continue`: what changed (or remained) since the cursor. */
  async continueList(cursorText: string, limit: number): Promise<ListPage | undefined> {
    let cursor: Cursor;
    try {
      cursor = JSON.parse(Buffer.from(cursorText, 'base64url').toString('utf8')) as Cursor;
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      return undefined;
    }
    if (typeof cursor.after !== 'number' || !Array.isArray(cursor.components)) return undefined;
    return this.#page(cursor, limit);
  }

  /**
   * Writes the index: one write at a time, each replacing the file atomically and taking the state as it is when
   * it starts, so that writes asked for meanwhile fold into one.
   */
  persist(): Promise<void> {
    if (!this.#writeQueued) {
      this.#writeQueued = true;
      const write = async (): Promise<void> => {
        this.#writeQueued = false;
        const text = `${JSON.stringify(this.#snapshot(), null, 2)}\n`;
        const file = join(this.root, STATE_DIR, 'index.json');
        const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
        await writeFile(temp, text);
        await rename(temp, file);
      };
      // A failed write must not stop the later ones.
      this.#persisting = this.#persisting.then(write, write);
    }
    return this.#persisting;
  }

  #snapshot(): IndexFile {
    const namespace = (label: NamespaceLabel) => ({
      entries: [...this.#namespaces[label].entries.values()],
      deleted: [...this.#namespaces[label].deleted.values()],
    });
    return {
      version: 1,
      seq: this.#seq,
      account: this.account,
      namespaces: { home: namespace('home'), team: namespace('team') },
    };
  }

  /** Persists in the background: commits do not wait for the index (a failure is reported as a warning). */
  #schedulePersist(): void {
    this.persist().catch((error: unknown) => {
      process.emitWarning(
        `dropbox emulator: index not saved: ${error instanceof Error ? error.message : String(error)}`,
      );
    });
  }

  #namespaceById(id: unknown): NamespaceLabel {
    if (id === this.account.homeNamespaceId) return 'home';
    if (id !== undefined && id === this.account.teamNamespaceId) return 'team';
    throw new HttpReply(422, { error_summary: 'no_permission/..', error: { '.tag': 'no_permission' } });
  }

  #diskPath(label: NamespaceLabel, pathDisplay: string): string {
    return join(
      this.root,
      label,
      ...pathDisplay
        .split('/')
        .filter((part) => part !== '')
        .map(toDiskName),
    );
  }

  /** The entry at `key`, noticing a file that was deleted from disk. */
  async #live(ns: Namespace, key: string): Promise<Entry | undefined> {
    const entry = ns.entries.get(key);
    if (entry?.tag !== 'file') return entry;
    try {
      await stat(this.#diskPath(ns.label, entry.pathDisplay));
      return entry;
    } catch (error) {
      if (!isMissing(error)) throw error;
      ns.entries.delete(key);
      this.#seq += 1;
      ns.deleted.set(key, {
        tag: 'deleted',
        name: entry.name,
        pathDisplay: entry.pathDisplay,
        seq: this.#seq,
      });
      this.#schedulePersist();
      return undefined;
    }
  }

  async #write(
    ns: Namespace,
    parents: readonly string[],
    name: string,
    replacing: FileEntry | undefined,
    source: CommitSource,
    request: CommitRequest,
    prefix: string,
  ): Promise<CommitOutcome> {
    for (let i = 0; i < parents.length; i += 1) {
      const display = `/${parents.slice(0, i + 1).join('/')}`;
      const key = toLowerPath(display);
      if (ns.entries.has(key)) continue;
      this.#seq += 1;
      ns.entries.set(key, {
        tag: 'folder',
        id: this.#newId(),
        name: parents[i] as string,
        pathDisplay: display,
        seq: this.#seq,
      });
      ns.deleted.delete(key);
    }
    const pathDisplay = `${parents.length === 0 ? '' : `/${parents.join('/')}`}/${replacing?.name ?? name}`;
    const disk = this.#diskPath(ns.label, pathDisplay);
    await mkdir(this.#diskPath(ns.label, `/${parents.join('/')}`), { recursive: true });
    await rename(source.file, disk);
    const now = formatDropboxNow();
    this.#seq += 1;
    const entry: FileEntry = {
      tag: 'file',
      id: replacing?.id ?? this.#newId(),
      name: replacing?.name ?? name,
      pathDisplay,
      rev: this.#newRev(),
      size: source.size,
      contentHash: source.contentHash,
      clientModified: request.clientModified ?? now,
      serverModified: now,
      seq: this.#seq,
    };
    const key = toLowerPath(pathDisplay);
    ns.entries.set(key, entry);
    ns.deleted.delete(key);
    this.#schedulePersist();
    return { ok: true, metadata: this.#describe(entry, prefix, false) };
  }

  async #page(cursor: Cursor, limit: number): Promise<ListPage> {
    const matches: { entry: Entry | DeletedEntry; prefix: string }[] = [];
    const collect = async (
      label: NamespaceLabel,
      folder: readonly string[],
      prefix: string,
    ): Promise<void> => {
      const ns = this.#namespaces[label];
      const base = toKey(folder);
      const inside = (key: string): boolean => {
        if (key === base) return cursor.recursive && base !== '';
        if (!key.startsWith(`${base}/`)) return false;
        return cursor.recursive || !key.slice(base.length + 1).includes('/');
      };
      for (const key of [...ns.entries.keys()]) {
        if (!inside(key)) continue;
        const entry = await this.#live(ns, key);
        if (entry !== undefined && entry.seq > cursor.after) matches.push({ entry, prefix });
      }
      if (cursor.includeDeleted) {
        for (const [key, entry] of ns.deleted) {
          if (inside(key) && entry.seq > cursor.after) matches.push({ entry, prefix });
        }
      }
    };
    await collect(cursor.namespace, cursor.components, cursor.prefix);
    const teamRoot = cursor.namespace === 'team' && cursor.components.length === 0;
    if (teamRoot && this.account.teamNamespaceId !== undefined && cursor.recursive) {
      await collect('home', [], this.account.homePath);
    }
    matches.sort((a, b) => a.entry.seq - b.entry.seq);
    const page = matches.slice(0, limit);
    const entries = page.map(({ entry, prefix }) =>
      entry.tag === 'deleted' ? this.#describeDeleted(entry, prefix) : this.#describe(entry, prefix, true),
    );
    if (teamRoot && this.account.teamNamespaceId !== undefined && cursor.after === 0) {
      entries.unshift(this.#mountMetadata());
    }
    const last = page[page.length - 1];
    const next: Cursor = {
      ...cursor,
      after: last === undefined ? Math.max(cursor.after, 0) : last.entry.seq,
    };
    return {
      entries,
      cursor: Buffer.from(JSON.stringify(next)).toString('base64url'),
      hasMore: matches.length > page.length,
    };
  }

  #mountMetadata(): Record<string, unknown> {
    const name = this.account.homePath.slice(1);
    return {
      '.tag': 'folder',
      name,
      path_lower: toLowerPath(this.account.homePath),
      path_display: this.account.homePath,
      id: `id:home-${this.account.homeNamespaceId}`,
      sharing_info: {
        read_only: false,
        shared_folder_id: this.account.homeNamespaceId,
        traverse_only: false,
        no_access: false,
      },
    };
  }

  #describe(entry: Entry, prefix: string, tagged: boolean): Record<string, unknown> {
    const display = `${prefix}${entry.pathDisplay}`;
    const common = {
      name: entry.name,
      path_lower: toLowerPath(display),
      path_display: display,
      id: entry.id,
    };
    if (entry.tag === 'folder') return { '.tag': 'folder', ...common };
    return {
      ...(tagged ? { '.tag': 'file' } : {}),
      ...common,
      client_modified: entry.clientModified,
      server_modified: entry.serverModified,
      rev: entry.rev,
      size: entry.size,
      is_downloadable: true,
      content_hash: entry.contentHash,
    };
  }

  #describeDeleted(entry: DeletedEntry, prefix: string): Record<string, unknown> {
    const display = `${prefix}${entry.pathDisplay}`;
    return { '.tag': 'deleted', name: entry.name, path_lower: toLowerPath(display), path_display: display };
  }

  #newId(): string {
    return `id:${randomBytes(16).toString('base64url').slice(0, 22)}`;
  }

  #newRev(): string {
    this.#revCounter += 1;
    return `${this.#revPrefix}${this.#revCounter.toString(16).padStart(8, '0')}`;
  }
}
