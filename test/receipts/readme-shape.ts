/**
 * The receipt as README.md documents it, read from the README itself so that code and documentation cannot drift:
 * the field table of `detail`, the example `detail`, the `detail-type` table and the rule pattern.
 */
import { readFileSync } from 'node:fs';

const README = new URL('../../README.md', import.meta.url);

/** One documented field: its dotted path (`dropbox.path`) and whether it may be null. */
export interface DocumentedField {
  readonly path: string;
  readonly type: 'string' | 'number' | 'object';
  readonly nullable: boolean;
}

function receiptsSection(): string {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('## Receipts');
  if (start < 0) throw new Error('README.md has no "## Receipts" section');
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** The field table that follows the `receipt-detail-fields` marker. */
export function documentedDetailFields(): DocumentedField[] {
  const section = receiptsSection();
  const marker = section.indexOf('<!-- receipt-detail-fields');
  if (marker < 0) throw new Error('README.md lost the receipt-detail-fields table');
  const fields: DocumentedField[] = [];
  for (const line of section.slice(marker).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (fields.length > 0) break;
      continue;
    }
    const match = /^\| `([a-zA-Z.]+)` \| (string|number|object)( or null)? \|/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) {
      fields.push({
        path: match[1],
        type: match[2] as DocumentedField['type'],
        nullable: match[3] !== undefined,
      });
    }
  }
  if (fields.length === 0) throw new Error('README.md receipt-detail-fields table has no rows');
  return fields;
}

/** The JSON code blocks of the receipts section, in order. */
export function documentedJsonBlocks(): unknown[] {
  return [...receiptsSection().matchAll(/```json\n([\s\S]*?)\n```/g)].map(
    (match) => JSON.parse(match[1] ?? 'null') as unknown,
  );
}

/** The `detail-type` values of the receipts section's first table. */
export function documentedDetailTypes(): string[] {
  return [...receiptsSection().matchAll(/^\| `(Ticket File [A-Za-z]+)` \|/gm)].map((match) => match[1] ?? '');
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * What in `detail` differs from the documented fields: a field missing, of another type, null where the README does
 * not allow it, or not documented at all. Empty when the detail is exactly as documented.
 */
export function shapeProblems(detail: unknown, fields: readonly DocumentedField[]): string[] {
  const problems: string[] = [];
  const documented = new Map(fields.map((field) => [field.path, field]));
  const visit = (value: unknown, prefix: string): void => {
    if (typeOf(value) !== 'object') return;
    for (const [name, child] of Object.entries(value as Record<string, unknown>)) {
      const path = prefix === '' ? name : `${prefix}.${name}`;
      const field = documented.get(path);
      if (field === undefined) {
        problems.push(`${path} is not documented`);
        continue;
      }
      if (child === null) {
        if (!field.nullable) problems.push(`${path} is null, documented as ${field.type}`);
        continue;
      }
      if (typeOf(child) !== field.type)
        problems.push(`${path} is ${typeOf(child)}, documented as ${field.type}`);
      if (field.type === 'object') visit(child, path);
    }
  };
  visit(detail, '');
  const present = (path: string): boolean => {
    let node: unknown = detail;
    const parts = path.split('.');
    for (const [index, part] of parts.entries()) {
      if (typeOf(node) !== 'object') return index > 0; // under a null parent: not required
      const record = node as Record<string, unknown>;
      if (!(part in record)) return false;
      node = record[part];
      if (node === null && index < parts.length - 1) return true;
    }
    return true;
  };
  for (const field of fields) {
    if (!present(field.path)) problems.push(`${field.path} is missing`);
  }
  return problems;
}

/**
 * Whether an EventBridge event matches a pattern, for the patterns the README shows: exact string values listed in
 * arrays, nested objects matching nested fields (EventBridge's content filtering supports much more; the README's
 * examples use only this).
 */
export function matchesPattern(event: unknown, pattern: unknown): boolean {
  if (typeOf(pattern) !== 'object' || typeOf(event) !== 'object') return false;
  return Object.entries(pattern as Record<string, unknown>).every(([name, expected]) => {
    const actual = (event as Record<string, unknown>)[name];
    if (Array.isArray(expected)) return expected.includes(actual);
    return matchesPattern(actual, expected);
  });
}

/** The attributes the `ledger-item-fields` table documents (several per row, as `a`, `b`). */
export function documentedLedgerAttributes(): string[] {
  const text = readFileSync(README, 'utf8');
  const marker = text.indexOf('<!-- ledger-item-fields');
  if (marker < 0) throw new Error('README.md lost the ledger-item-fields table');
  const names: string[] = [];
  for (const line of text.slice(marker).split('\n').slice(1)) {
    if (!line.startsWith('|')) {
      if (names.length > 0) break;
      continue;
    }
    const cell = line.split('|')[1] ?? '';
    names.push(...[...cell.matchAll(/`([a-zA-Z]+)`/g)].map((match) => match[1] ?? ''));
  }
  return names;
}
