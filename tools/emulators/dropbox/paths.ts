/**
 * Dropbox path rules, as the emulator applies them: paths start with `/`, never end with one, have no empty, `.`
 * or `..` component and no component over 255 UTF-16 units (`malformed_path`); some names are refused outright
 * (`disallowed_name`); comparison is case-insensitive while the first spelling is kept for display.
 */

/** Names Dropbox will not store (compared case-insensitively). */
export const DISALLOWED_NAMES: ReadonlySet<string> = new Set([
  'desktop.ini',
  'thumbs.db',
  '.ds_store',
  'icon\r',
  '.dropbox',
  '.dropbox.attr',
]);

const MAX_COMPONENT_UNITS = 255;

/** What a path check found. */
export type PathProblem = 'malformed_path' | 'disallowed_name';

/** The key two spellings of one path share. */
export function toLowerPath(path: string): string {
  return path.normalize('NFC').toLowerCase();
}

/**
 * Splits a path relative to a namespace root (`/a/b.pdf` → `['a', 'b.pdf']`, `''` → `[]`) or names the problem.
 * `allowRoot` accepts `''` (list_folder); `/` alone is never a valid Dropbox path.
 */
export function splitPath(path: string, allowRoot = false): string[] | 'malformed_path' {
  if (path === '') return allowRoot ? [] : 'malformed_path';
  if (!path.startsWith('/') || path.endsWith('/')) return 'malformed_path';
  const components = path.slice(1).split('/');
  for (const component of components) {
    if (component === '' || component === '.' || component === '..') return 'malformed_path';
    if (component.length > MAX_COMPONENT_UNITS) return 'malformed_path';
    // NUL and backslash never reach a Dropbox name (backslash: the emulator's assumption, see the docs).
    if (component.includes('\0') || component.includes('\\')) return 'malformed_path';
  }
  return components;
}

/** True when Dropbox refuses `name`. */
export function isDisallowedName(name: string): boolean {
  return DISALLOWED_NAMES.has(name.toLowerCase());
}

/** `Proof.pdf` → `['Proof', '.pdf']`; a leading dot is part of the name (`.env` → `['.env', '']`). */
export function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

/** The autorename candidates for `name`: `Proof (1).pdf`, `Proof (2).pdf`, … */
export function* generateRenameCandidates(name: string, style: 'number' | 'conflicted'): Generator<string> {
  const [base, extension] = splitExtension(name);
  if (style === 'conflicted') {
    yield `${base} (conflicted copy)${extension}`;
    for (let n = 2; ; n += 1) yield `${base} (conflicted copy ${n})${extension}`;
  }
  for (let n = 1; ; n += 1) yield `${base} (${n})${extension}`;
}

/** Dropbox's timestamp format: `2015-05-12T15:50:38Z`, no fraction. */
export const DROPBOX_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Now, in Dropbox's timestamp format. */
export function formatDropboxNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}
