/**
 * A file that holds the name of an alias folder. With `export-to-single-folder` = `no`, a print file of publication
 * `Daily` goes to `<base>/Daily/<issue>/<name>`; when a file named `Daily` already sits in the base folder (a service
 * ticket's, say), Dropbox refuses every write below it with `path/conflict/file_ancestor` ("There's a file at an
 * ancestor path, so we couldn't create the required parent folders", files.stone `WriteConflictError`). Left alone,
 * one file would block a whole publication, and anyone who can write to the bucket could do it on purpose.
 *
 * How it resolves: the clashing folder takes the first free suffixed name in Dropbox's own autorename style,
 * `Daily (1)`, `Daily (2)`, …, where "free" means no file has that name (a folder of that name is used as it is).
 * The publication keeps its folder structure beside the file, every later file of the publication finds the same
 * folder (the lookup is deterministic while the file stays), nothing is moved, replaced or deleted, and the
 * outcome carries an `alias-folder-clash` warning naming both. DESIGN.md's rule for an unusable alias folder is a
 * fallback with a warning, never a dropped file; the base folder is not taken here because the publication's files
 * would then mix with every other ticket's and with each other's issues.
 */
import type { Reason } from './rules.ts';

/** The lookup the resolution needs: whether a file (not a folder) is at `path`. */
export interface FileLookup {
  getFileMetadata(path: string, signal?: AbortSignal): Promise<unknown>;
}

/** Suffixes tried per folder before giving up (the write then fails as blocked). */
const MAX_SUFFIX = 20;
/** Dropbox's limit on one path component, in UTF-16 units (as lib/dropbox-path.ts counts them). */
const MAX_COMPONENT_UNITS = 255;

/** `folder (n)`, the folder name shortened so that the whole stays within one component's limit. */
export function suffixedFolderName(folder: string, n: number): string {
  const suffix = ` (${n})`;
  const room = MAX_COMPONENT_UNITS - suffix.length;
  let stem = folder;
  while (stem.length > room) stem = Array.from(stem).slice(0, -1).join('');
  return `${stem.trimEnd()}${suffix}`;
}

/** True for the refusal this module resolves: a file at an ancestor of the written path. */
export function isFileAncestorConflict(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const tags = (error as { summaryTags?: unknown }).summaryTags;
  return Array.isArray(tags) && tags.includes('conflict') && tags.includes('file_ancestor');
}

/**
 * The path with each alias folder that a file holds the name of replaced by its first free suffixed name, and the
 * warning that says so; `undefined` when no folder below `baseFolder` clashes (or none is free within 20 tries).
 * @param baseFolder normalised: `''` for the root, else `/A/B` (as `RuleSettings.baseFolder`).
 */
export async function resolveAliasFolderClash(
  dropbox: FileLookup,
  path: string,
  baseFolder: string,
  signal?: AbortSignal,
): Promise<{ readonly path: string; readonly warning: Reason } | undefined> {
  if (!path.toLowerCase().startsWith(`${baseFolder.toLowerCase()}/`)) return undefined;
  const components = path.slice(baseFolder.length + 1).split('/');
  const name = components.pop();
  if (name === undefined || components.length === 0) return undefined;
  let prefix = baseFolder;
  const renamed: string[] = [];
  for (const folder of components) {
    let candidate = folder;
    for (let n = 1; (await dropbox.getFileMetadata(`${prefix}/${candidate}`, signal)) !== null; n += 1) {
      if (n > MAX_SUFFIX) return undefined;
      candidate = suffixedFolderName(folder, n);
    }
    if (candidate !== folder)
      renamed.push(`${prefix}/${folder}" is a file, so the folder is "${prefix}/${candidate}`);
    prefix = `${prefix}/${candidate}`;
  }
  if (renamed.length === 0) return undefined;
  return {
    path: `${prefix}/${name}`,
    warning: {
      code: 'alias-folder-clash',
      message: `"${renamed.join('"; "')}": the file at that name is kept, and this ticket file goes to ${prefix}/${name}.`,
    },
  };
}

/** What {@link writeResolvingClash} did. */
export interface ClashWrite<T> {
  readonly result: T;
  /** Set when the write went to a suffixed alias folder: where, what was there before, and the warning. */
  readonly clash?:
    | { readonly path: string; readonly existing: unknown; readonly warning: Reason }
    | undefined;
}

/**
 * Runs `write(path)`; when Dropbox refuses it with `file_ancestor` and the path has alias folders (`aliasFolders`),
 * writes again to the path with the clashing folders suffixed (see {@link resolveAliasFolderClash}). Any other
 * failure, or a clash that cannot be resolved, is rethrown as it was (a `blocked` refusal).
 */
export async function writeResolvingClash<T>(
  dropbox: FileLookup,
  path: string,
  options: {
    readonly baseFolder: string;
    readonly aliasFolders: boolean;
    readonly signal?: AbortSignal | undefined;
  },
  write: (path: string) => Promise<T>,
): Promise<ClashWrite<T>> {
  try {
    return { result: await write(path) };
  } catch (error) {
    if (!options.aliasFolders || !isFileAncestorConflict(error)) throw error;
    const resolved = await resolveAliasFolderClash(dropbox, path, options.baseFolder, options.signal);
    if (resolved === undefined) throw error;
    const existing = await dropbox.getFileMetadata(resolved.path, options.signal);
    return { result: await write(resolved.path), clash: { ...resolved, existing } };
  }
}
