/**
 * Object tags for the local S3, kept by the proxy in a JSON file beside s3rver's own files for the object.
 * s3rver 3.7.1 has PutObjectTagging, but it round-trips tags through an XML parser that turns `007` into `7`,
 * trims and cuts values at `<`, and drops values such as `true`; and it ignores the `x-amz-tagging` header.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/** One tag, in the order given. */
export interface ObjectTag {
  readonly key: string;
  readonly value: string;
}

/** Tags that S3 would refuse (`InvalidTag`). */
export class InvalidTagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTagError';
  }
}

/** S3's limits: 10 tags per object, keys of 1 to 128 characters, values up to 256, keys unique. */
function validateTags(tags: readonly ObjectTag[]): readonly ObjectTag[] {
  if (tags.length > 10) throw new InvalidTagError('Object tags cannot be greater than 10');
  const seen = new Set<string>();
  for (const tag of tags) {
    if (tag.key.length < 1 || [...tag.key].length > 128) {
      throw new InvalidTagError('The TagKey you have provided is invalid');
    }
    if ([...tag.value].length > 256) throw new InvalidTagError('The TagValue you have provided is invalid');
    if (seen.has(tag.key)) throw new InvalidTagError('Cannot provide multiple Tags with the same key');
    seen.add(tag.key);
  }
  return tags;
}

/** Parses an `x-amz-tagging` header: URL query encoding, `key1=value1&key2=value2`. */
export function parseTaggingHeader(header: string): readonly ObjectTag[] {
  return validateTags([...new URLSearchParams(header)].map(([key, value]) => ({ key, value })));
}

const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16));
    if (entity.startsWith('#')) return String.fromCodePoint(Number.parseInt(entity.slice(1), 10));
    return ENTITIES[entity] ?? '';
  });
}

/** Escapes text for an XML element. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (character) => `&${Object.keys(ENTITIES).find((name) => ENTITIES[name] === character)};`,
  );
}

function elementText(xml: string, name: string): string | undefined {
  if (new RegExp(`<${name}\\s*/>`).test(xml)) return '';
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return match?.[1] === undefined ? undefined : unescapeXml(match[1]);
}

/** Parses a PutObjectTagging body (`<Tagging><TagSet><Tag><Key>…</Key><Value>…</Value></Tag>…`). */
export function parseTaggingXml(xml: string): readonly ObjectTag[] {
  if (!/<Tagging[\s>]/.test(xml) || !/<TagSet\s*\/?>/.test(xml)) {
    throw new InvalidTagError(
      'The XML you provided was not well-formed or did not validate against our published schema',
    );
  }
  const tags: ObjectTag[] = [];
  for (const match of xml.matchAll(/<Tag>([\s\S]*?)<\/Tag>/g)) {
    const block = match[1] ?? '';
    const key = elementText(block, 'Key');
    const value = elementText(block, 'Value');
    if (key === undefined || value === undefined) {
      throw new InvalidTagError(
        'The XML you provided was not well-formed or did not validate against our published schema',
      );
    }
    tags.push({ key, value });
  }
  return validateTags(tags);
}

/** The GetObjectTagging answer. */
export function taggingXml(tags: readonly ObjectTag[]): string {
  const set = tags
    .map((tag) => `<Tag><Key>${escapeXml(tag.key)}</Key><Value>${escapeXml(tag.value)}</Value></Tag>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>${set}</TagSet></Tagging>`;
}

/** Where the proxy keeps an object's tags: beside s3rver's `<name>._S3rver_object`, which s3rver's listings skip. */
export class TagStore {
  readonly #directory: string;

  constructor(directory: string) {
    this.#directory = resolve(directory);
  }

  #path(bucket: string, key: string): string {
    const parts = key.split('/');
    const name = parts.pop() ?? '';
    const bucketRoot = join(this.#directory, bucket);
    const path = resolve(bucketRoot, ...parts, `${name}._S3rver_proxy-tags.json`);
    if (!path.startsWith(`${bucketRoot}${sep}`))
      throw new InvalidTagError('The object key is not a valid path.');
    return path;
  }

  /** The object's tags; none when it never had any. */
  read(bucket: string, key: string): readonly ObjectTag[] {
    try {
      return JSON.parse(readFileSync(this.#path(bucket, key), 'utf8')) as ObjectTag[];
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  /** Replaces the object's tags. */
  write(bucket: string, key: string, tags: readonly ObjectTag[]): void {
    const path = this.#path(bucket, key);
    mkdirSync(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(tags));
    renameSync(temporary, path);
  }

  /** Forgets the object's tags (the object was deleted). */
  remove(bucket: string, key: string): void {
    rmSync(this.#path(bucket, key), { force: true });
  }
}
