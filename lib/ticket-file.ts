/**
 * The upload contract: what the ticket system writes to S3 (user metadata and object tags) read as a ticket file.
 */
import { Buffer } from 'node:buffer';
import { TextDecoder } from 'node:util';
import type { Reason } from './rules.ts';

/** The ticket types the upload contract knows. */
export const TICKET_TYPES = ['print', 'digital-ad', 'digital-media', 'service'] as const;
/** The file statuses the upload contract knows. */
export const FILE_STATUSES = ['final', 'ready-to-deliver', 'non-final'] as const;

/** The user metadata names of the upload contract (`x-amz-meta-…`). */
export const UPLOAD_METADATA_NAMES = [
  'ticket-type',
  'ticket-id',
  'publication-alias',
  'issue-alias',
  'product-alias',
  'file-status',
  'file-name',
] as const;

export type TicketType = (typeof TICKET_TYPES)[number];
export type FileStatus = (typeof FILE_STATUSES)[number];

/** A file uploaded to a ticket, as its S3 metadata and tags describe it. */
export interface TicketFile {
  readonly ticketType: TicketType;
  readonly ticketId?: string | undefined;
  readonly publicationAlias?: string | undefined;
  readonly issueAlias?: string | undefined;
  readonly productAlias?: string | undefined;
  /** `non-final` when absent or unknown. */
  readonly fileStatus: FileStatus;
  /** Where the status came from: the `file-status` tag, the metadata, or neither (absent = non-final). */
  readonly fileStatusSource?: 'tag' | 'metadata' | 'default' | undefined;
  /** The metadata `file-name`, else the key's last segment. */
  readonly fileName: string;
}

/** An S3 object as the rules see it: its key, user metadata and tags. */
export interface ObjectDescription {
  readonly key: string;
  /** User metadata; keys in any case, with or without the `x-amz-meta-` prefix. */
  readonly metadata?: Readonly<Record<string, string | undefined>>;
  readonly tags?: Readonly<Record<string, string | undefined>>;
}

const METADATA_PREFIX = 'x-amz-meta-';

function isTicketType(value: string): value is TicketType {
  return (TICKET_TYPES as readonly string[]).includes(value);
}

function isFileStatus(value: string): value is FileStatus {
  return (FILE_STATUSES as readonly string[]).includes(value);
}

function describeValue(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

function normaliseEnumValue(value: string): string {
  return value
    .trim()
    .toLowerCase()
    .replace(/[\s_]+/g, '-');
}

function readMetadata(metadata: ObjectDescription['metadata']): ReadonlyMap<string, string> {
  const values = new Map<string, string>();
  const exact = new Set<string>();
  for (const [rawKey, value] of Object.entries(metadata ?? {})) {
    if (value === undefined) continue;
    const lower = rawKey.trim().toLowerCase();
    const key = lower.startsWith(METADATA_PREFIX) ? lower.slice(METADATA_PREFIX.length) : lower;
    // The SDK's own form (lower-case, no prefix) wins over any other spelling of the same key.
    const isExact = rawKey === key;
    if (values.has(key) && (exact.has(key) || !isExact)) continue;
    values.set(key, decodeRfc2047(value));
    if (isExact) exact.add(key);
  }
  return values;
}

function readTag(tags: ObjectDescription['tags'], name: string): string | undefined {
  if (tags === undefined) return undefined;
  const exact = tags[name];
  if (exact !== undefined) return exact;
  return Object.entries(tags).find(
    ([key, value]) => value !== undefined && key.trim().toLowerCase() === name,
  )?.[1];
}

function presentValue(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function lastKeySegment(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}

/**
 * Reads the upload contract from an object's key, user metadata and tags. Metadata values are decoded from
 * RFC 2047; enum values are case-insensitive and trimmed; the `file-status` tag overrides the metadata.
 * @returns the ticket file with its warnings (`unknown-file-status`), or the reason it is not one
 *   (`not-a-ticket-file`, `unknown-ticket-type`).
 */
export function readTicketFile(
  object: ObjectDescription,
): { ok: true; file: TicketFile; warnings: readonly Reason[] } | { ok: false; reason: Reason } {
  const metadata = readMetadata(object.metadata);
  const rawType = presentValue(metadata.get('ticket-type'));
  if (rawType === undefined) {
    return {
      ok: false,
      reason: {
        code: 'not-a-ticket-file',
        message: 'The object has no ticket-type metadata: not a ticket file.',
      },
    };
  }
  const ticketType = normaliseEnumValue(rawType);
  if (!isTicketType(ticketType)) {
    return {
      ok: false,
      reason: {
        code: 'unknown-ticket-type',
        message: `The ticket-type ${describeValue(rawType)} is not one of ${TICKET_TYPES.join(', ')}.`,
      },
    };
  }

  const warnings: Reason[] = [];
  const tagStatus = presentValue(readTag(object.tags, 'file-status'));
  const metadataStatus = presentValue(metadata.get('file-status'));
  const rawStatus = tagStatus ?? metadataStatus;
  const fileStatusSource =
    tagStatus !== undefined ? 'tag' : metadataStatus !== undefined ? 'metadata' : 'default';
  let fileStatus: FileStatus = 'non-final';
  if (rawStatus !== undefined) {
    const status = normaliseEnumValue(rawStatus);
    if (isFileStatus(status)) {
      fileStatus = status;
    } else {
      warnings.push({
        code: 'unknown-file-status',
        message: `The file-status ${describeValue(rawStatus)} (from the ${fileStatusSource === 'tag' ? 'object tag' : 'metadata'}) is not one of ${FILE_STATUSES.join(', ')}: treated as non-final.`,
      });
    }
  }

  const metadataName = metadata.get('file-name');
  const fileName =
    metadataName !== undefined && metadataName.trim() !== '' ? metadataName : lastKeySegment(object.key);
  return {
    ok: true,
    file: {
      ticketType,
      ticketId: presentValue(metadata.get('ticket-id')),
      publicationAlias: presentValue(metadata.get('publication-alias')),
      issueAlias: presentValue(metadata.get('issue-alias')),
      productAlias: presentValue(metadata.get('product-alias')),
      fileStatus,
      fileStatusSource,
      fileName,
    },
    warnings,
  };
}

const ENCODED_WORD = /=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=/g;

function decodeWordBytes(encoding: string, text: string): Uint8Array | null {
  if (encoding.toUpperCase() === 'B') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
    return Buffer.from(text, 'base64');
  }
  const bytes: number[] = [];
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] ?? '';
    if (char === '_') {
      bytes.push(0x20);
    } else if (char === '=') {
      const hex = text.slice(index + 1, index + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(Number.parseInt(hex, 16));
      index += 2;
    } else {
      bytes.push(...Buffer.from(char, 'utf8'));
    }
  }
  return Uint8Array.from(bytes);
}

interface EncodedRun {
  readonly charset: string;
  readonly chunks: Uint8Array[];
}

function decodeRun(run: EncodedRun): string {
  return createDecoder(run.charset)?.decode(Buffer.concat(run.chunks)) ?? '';
}

function createDecoder(charset: string): TextDecoder | null {
  // RFC 2231 allows a language after the charset: `UTF-8*en`.
  const label = charset.split('*')[0] ?? charset;
  try {
    return new TextDecoder(label);
  } catch (error) {
    if (error instanceof RangeError) return null;
    throw error;
  }
}

/**
 * Decodes RFC 2047 encoded-words (`=?UTF-8?B?…?=`, `=?UTF-8?Q?…?=`), as S3 returns non-ASCII metadata values.
 * Adjacent encoded-words join without the whitespace between them (their bytes are joined before decoding, so
 * a character split across two words survives); `_` is a space in the Q form. Text that is not a valid
 * encoded-word is kept as it is.
 */
export function decodeRfc2047(value: string): string {
  if (!value.includes('=?')) return value;
  const parts: string[] = [];
  let cursor = 0;
  let run: EncodedRun | undefined;
  for (const match of value.matchAll(ENCODED_WORD)) {
    const [whole, charset = '', encoding = '', text = ''] = match;
    const between = value.slice(cursor, match.index);
    cursor = match.index + whole.length;
    const bytes = decodeWordBytes(encoding, text);
    if (bytes === null || createDecoder(charset) === null) {
      if (run !== undefined) parts.push(decodeRun(run));
      run = undefined;
      parts.push(between, whole);
      continue;
    }
    const adjacent = run !== undefined && /^\s*$/.test(between);
    if (adjacent && run?.charset === charset.toLowerCase()) {
      run.chunks.push(bytes);
      continue;
    }
    if (run !== undefined) parts.push(decodeRun(run));
    if (!adjacent) parts.push(between);
    run = { charset: charset.toLowerCase(), chunks: [bytes] };
  }
  if (run !== undefined) parts.push(decodeRun(run));
  parts.push(value.slice(cursor));
  return parts.join('');
}

/**
 * Encodes a user metadata value as the ticket system sends it (DESIGN.md "Upload contract"): printable ASCII as it
 * is, anything else as one RFC 2047 B encoded-word (`=?UTF-8?B?…?=`), since S3 user metadata travels in HTTP headers.
 * {@link decodeRfc2047} reads it back.
 */
export function encodeRfc2047(value: string): string {
  return /^[\x20-\x7e]*$/.test(value)
    ? value
    : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}
