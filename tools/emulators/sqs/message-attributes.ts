/**
 * SQS message bodies and message attributes: the allowed characters, sizes, and the MD5 digests SQS answers
 * (`MD5OfMessageBody`, and `MD5OfMessageAttributes` computed over SQS's documented binary encoding).
 */
import { createHash } from 'node:crypto';
import { AwsJsonError, type JsonObject, readString } from '../http.ts';
import { invalidMessageContents, invalidParameterValue } from './errors.ts';

/** A message attribute as it travels in AWS JSON (`BinaryValue` is base64). */
export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

const MAX_ATTRIBUTES = 10;
const ATTRIBUTE_NAME = /^(?!aws\.|amazon\.)(?!\.)(?!.*\.\.)(?!.*\.$)[A-Za-z0-9_.-]{1,256}$/i;

/** Hex MD5 of a string's UTF-8 bytes: `MD5OfMessageBody` / `MD5OfBody`. */
export function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/**
 * Throws `InvalidMessageContents` when the body holds a character outside the set SQS accepts:
 * `#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`.
 */
export function checkBodyCharacters(body: string): void {
  for (const character of body) {
    const code = character.codePointAt(0) ?? 0;
    const allowed =
      code === 0x9 ||
      code === 0xa ||
      code === 0xd ||
      (code >= 0x20 && code <= 0xd7ff) ||
      (code >= 0xe000 && code <= 0xfffd) ||
      (code >= 0x10000 && code <= 0x10ffff);
    if (!allowed) {
      throw invalidMessageContents(
        `Invalid binary character '#x${code.toString(16).toUpperCase()}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`,
      );
    }
  }
}

/** Validates a `MessageAttributes` map and returns it typed, with its size in bytes (names, types and values). */
export function readMessageAttributes(raw: Record<string, JsonObject> | undefined): {
  attributes: Record<string, MessageAttributeValue> | undefined;
  bytes: number;
} {
  if (raw === undefined) return { attributes: undefined, bytes: 0 };
  const entries = Object.entries(raw);
  if (entries.length > MAX_ATTRIBUTES) {
    throw invalidParameterValue(
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`,
    );
  }
  let bytes = 0;
  const attributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of entries) {
    if (!ATTRIBUTE_NAME.test(name)) {
      throw invalidParameterValue(`Message attribute name '${name}' is invalid.`);
    }
    const dataType = readString(value, 'DataType');
    const stringValue = readString(value, 'StringValue');
    const binaryValue = readString(value, 'BinaryValue');
    if (dataType === undefined) {
      throw invalidParameterValue(`The message attribute '${name}' must contain a non-empty attribute type.`);
    }
    const baseType = dataType.split('.')[0];
    if (baseType !== 'String' && baseType !== 'Number' && baseType !== 'Binary') {
      throw invalidParameterValue(`The type of message (user) attribute '${name}' is invalid.`);
    }
    if (baseType === 'Binary' ? binaryValue === undefined : stringValue === undefined) {
      throw invalidParameterValue(
        `The message attribute '${name}' must contain a non-empty message attribute value.`,
      );
    }
    if (baseType === 'Number' && !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(stringValue ?? '')) {
      throw invalidParameterValue(`Can't cast the value of message (user) attribute '${name}' to a number.`);
    }
    const valueBytes =
      baseType === 'Binary'
        ? Buffer.from(binaryValue ?? '', 'base64').length
        : Buffer.byteLength(stringValue ?? '', 'utf8');
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(dataType, 'utf8') + valueBytes;
    attributes[name] =
      baseType === 'Binary'
        ? { DataType: dataType, BinaryValue: binaryValue ?? '' }
        : { DataType: dataType, StringValue: stringValue ?? '' };
  }
  return { attributes, bytes };
}

function lengthPrefixed(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * `MD5OfMessageAttributes`: for each attribute in name order, the length-prefixed name and data type, a transport
 * byte (1 string, 2 binary), and the length-prefixed value.
 */
export function md5OfMessageAttributes(attributes: Readonly<Record<string, MessageAttributeValue>>): string {
  const hash = createHash('md5');
  const names = Object.keys(attributes).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const attribute = attributes[name];
    if (attribute === undefined) continue;
    hash.update(lengthPrefixed(Buffer.from(name, 'utf8')));
    hash.update(lengthPrefixed(Buffer.from(attribute.DataType, 'utf8')));
    if (attribute.BinaryValue !== undefined) {
      hash.update(Buffer.from([2]));
      hash.update(lengthPrefixed(Buffer.from(attribute.BinaryValue, 'base64')));
    } else {
      hash.update(Buffer.from([1]));
      hash.update(lengthPrefixed(Buffer.from(attribute.StringValue ?? '', 'utf8')));
    }
  }
  return hash.digest('hex');
}

/** Picks the attributes a receive asked for: `All` / `.*`, exact names, or `prefix.*`. */
export function selectMessageAttributes(
  attributes: Readonly<Record<string, MessageAttributeValue>> | undefined,
  requested: readonly string[],
): Record<string, MessageAttributeValue> | undefined {
  if (attributes === undefined || requested.length === 0) return undefined;
  const wanted = (name: string): boolean =>
    requested.some(
      (pattern) =>
        pattern === 'All' ||
        pattern === '.*' ||
        pattern === name ||
        (pattern.endsWith('.*') && name.startsWith(pattern.slice(0, -1))),
    );
  const selected = Object.fromEntries(Object.entries(attributes).filter(([name]) => wanted(name)));
  return Object.keys(selected).length === 0 ? undefined : selected;
}

/** Narrows an unknown error to the JSON error a batch entry reports. */
export function entryFailure(id: string, error: unknown): JsonObject {
  if (!(error instanceof AwsJsonError)) throw error;
  const code = error.queryError?.split(';')[0] ?? error.type.split('#').at(-1) ?? error.type;
  return { Id: id, SenderFault: true, Code: code, Message: error.message };
}
