/**
 * Where a ticket file goes in Dropbox. Aliases and names come from S3 metadata and are untrusted: every component
 * is sanitised on its own, so a path never leaves the base folder.
 */
import type { Reason } from './rules.ts';
import type { RuleSettings } from './settings.ts';
import type { TicketFile } from './ticket-file.ts';

/** Names the Dropbox API refuses (`disallowed_name`), lower-case; compared case-insensitively. */
export const REFUSED_NAMES: ReadonlySet<string> = new Set([
  'desktop.ini',
  'thumbs.db',
  '.ds_store',
  'icon\r',
  '.dropbox',
  '.dropbox.attr',
]);

/** Dropbox limits each path component to 255 characters, counted in UTF-16 code units. */
export const MAX_COMPONENT_UNITS = 255;

/** The tokens `file-name-template` may use. */
export const FILE_NAME_TOKENS = [
  'fileName',
  'ticketId',
  'ticketType',
  'publicationAlias',
  'issueAlias',
  'productAlias',
] as const;

/** A token of `file-name-template`. */
export type FileNameToken = (typeof FILE_NAME_TOKENS)[number];

const REPLACEMENT = '_';
// An extension at most this long is kept when a name is shortened, so `Proof….pdf` still opens as a PDF.
const MAX_KEPT_EXTENSION_UNITS = 20;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** True when Dropbox refuses this name (`desktop.ini`, `Thumbs.db`, `Icon\r`, …), in any case. */
export function isRefusedName(name: string): boolean {
  return REFUSED_NAMES.has(name.normalize('NFC').toLowerCase());
}

/**
 * Normalises a base folder: leading slash, no trailing slash, repeated slashes collapsed, NFC, case kept.
 * @returns `''` for the root (`/` or empty), else `/A/B`.
 */
export function normaliseBaseFolder(value: string): string {
  const components = value
    .trim()
    .normalize('NFC')
    .split('/')
    .filter((component) => component !== '');
  return components.length === 0 ? '' : `/${components.join('/')}`;
}

function trimTrailingSpacesAndDots(value: string): string {
  return value.replace(/[\s.]+$/u, '');
}

function truncateToUnits(value: string, maxUnits: number): string {
  let kept = '';
  for (const { segment } of graphemes.segment(value)) {
    if (kept.length + segment.length > maxUnits) break;
    kept += segment;
  }
  if (kept !== '' || value === '') return kept;
  // A single grapheme longer than the limit (a base letter with hundreds of combining marks): cut by code point.
  for (const codePoint of value) {
    if (kept.length + codePoint.length > maxUnits) break;
    kept += codePoint;
  }
  return kept;
}

function shortenName(name: string): string {
  if (name.length <= MAX_COMPONENT_UNITS) return name;
  const extension = /\.[^.\s]+$/u.exec(name)?.[0];
  if (extension !== undefined && extension.length <= MAX_KEPT_EXTENSION_UNITS) {
    const stem = trimTrailingSpacesAndDots(
      truncateToUnits(name.slice(0, -extension.length), MAX_COMPONENT_UNITS - extension.length),
    );
    if (stem !== '') return `${stem}${extension}`;
  }
  return trimTrailingSpacesAndDots(truncateToUnits(name, MAX_COMPONENT_UNITS));
}

/**
 * Makes one path component safe for Dropbox: Unicode NFC (lone surrogates replaced), `/`, `\` and control
 * characters replaced by `_`, trailing spaces and dots trimmed, at most 255 UTF-16 units without splitting a
 * character (a long name keeps its extension).
 * @returns the component, or `''` when nothing usable is left (`.`, `..`, only spaces); the caller decides.
 */
export function sanitiseComponent(name: string): string {
  const replaced = name
    .toWellFormed()
    .normalize('NFC')
    .replace(/[/\\\p{Cc}]/gu, REPLACEMENT);
  const sanitised = shortenName(trimTrailingSpacesAndDots(replaced));
  return sanitised === '.' || sanitised === '..' ? '' : sanitised;
}

function tokenValue(file: TicketFile, token: FileNameToken): string {
  switch (token) {
    case 'fileName':
      return file.fileName;
    case 'ticketId':
      return file.ticketId ?? '';
    case 'ticketType':
      return file.ticketType;
    case 'publicationAlias':
      return file.publicationAlias ?? '';
    case 'issueAlias':
      return file.issueAlias ?? '';
    case 'productAlias':
      return file.productAlias ?? '';
  }
}

function isFileNameToken(token: string): token is FileNameToken {
  return (FILE_NAME_TOKENS as readonly string[]).includes(token);
}

/**
 * Renders `file-name-template` for a file, before sanitising: a token with no value renders empty; an unknown
 * token (settings validation rejects those) stays as written.
 */
export function renderFileName(template: string, file: TicketFile): string {
  return template.replace(/\{([^{}]*)\}/g, (whole, token: string) =>
    isFileNameToken(token) ? tokenValue(file, token) : whole,
  );
}

function describeValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

type AliasName = 'publication-alias' | 'issue-alias' | 'product-alias';

function aliasesFor(file: TicketFile): readonly (readonly [AliasName, string | undefined])[] {
  switch (file.ticketType) {
    case 'print':
    case 'digital-ad':
      return [
        ['publication-alias', file.publicationAlias],
        ['issue-alias', file.issueAlias],
      ];
    case 'digital-media':
      return [['product-alias', file.productAlias]];
    case 'service':
      return [];
  }
}

function resolveAliasFolders(file: TicketFile): { folders: readonly string[]; warning?: Reason } {
  const folders: string[] = [];
  const missing: string[] = [];
  const unusable: string[] = [];
  for (const [name, value] of aliasesFor(file)) {
    const folder = value === undefined ? '' : sanitiseComponent(value);
    if (value === undefined || value.trim() === '') missing.push(name);
    else if (folder === '' || isRefusedName(folder)) unusable.push(`${name} ${describeValue(value)}`);
    else folders.push(folder);
  }
  if (missing.length === 0 && unusable.length === 0) return { folders };
  const problems = [
    ...(missing.length > 0 ? [`has no ${missing.join(' or ')}`] : []),
    ...(unusable.length > 0 ? [`has ${unusable.join(' and ')}, which cannot be a folder name`] : []),
  ];
  return {
    folders: [],
    warning: {
      code: 'alias-missing',
      message: `export-to-single-folder is no, but the ${file.ticketType} ticket file ${problems.join(' and ')}: it goes to the base folder.`,
    },
  };
}

function safeBaseFolder(baseFolder: string): string {
  // The settings schema already rejects unsafe base folders; this keeps hand-made RuleSettings safe too.
  const components = normaliseBaseFolder(baseFolder)
    .split('/')
    .map(sanitiseComponent)
    .filter((component) => component !== '' && !isRefusedName(component));
  return components.length === 0 ? '' : `/${components.join('/')}`;
}

/**
 * Builds the Dropbox path of a file under the rule settings: `<base>/<name>` in single-folder mode, else alias
 * folders by ticket type (falling back to `<base>/<name>` with an `alias-missing` warning). The name comes from
 * `file-name-template`, as one component; when it renders empty the original file name is used.
 * @returns the path, or the reason it cannot be written (`refused-name`, `invalid-name`).
 */
export function buildDropboxPath(
  file: TicketFile,
  rules: RuleSettings,
): { ok: true; path: string; warnings: readonly Reason[] } | { ok: false; reason: Reason } {
  const rendered = renderFileName(rules.fileNameTemplate, file);
  const source = sanitiseComponent(rendered) === '' ? file.fileName : rendered;
  const name = sanitiseComponent(source);
  if (name === '') {
    return {
      ok: false,
      reason: {
        code: 'invalid-name',
        message: `The file name ${describeValue(source)} leaves no usable Dropbox name once sanitised.`,
      },
    };
  }
  if (isRefusedName(source) || isRefusedName(name)) {
    return {
      ok: false,
      reason: {
        code: 'refused-name',
        message: `Dropbox refuses the file name ${describeValue(name)} (desktop.ini, thumbs.db, .ds_store, Icon\\r, .dropbox and .dropbox.attr are never stored).`,
      },
    };
  }
  const { folders, warning } = rules.exportToSingleFolder ? { folders: [] } : resolveAliasFolders(file);
  const path = `${safeBaseFolder(rules.baseFolder)}/${[...folders, name].join('/')}`;
  return { ok: true, path, warnings: warning === undefined ? [] : [warning] };
}
