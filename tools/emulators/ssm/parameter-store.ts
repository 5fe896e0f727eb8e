/**
 * The state and semantics of the SSM emulator's Parameter Store, apart from HTTP: parameters with their version
 * history, the operations the project uses, and AWS's errors for them. Inputs are the operations' JSON members
 * (`Name`, `Path`, …), outputs are the JSON the service answers.
 */
import { randomBytes } from 'node:crypto';
import {
  AwsJsonError,
  type JsonObject,
  readBoolean,
  readNumber,
  readObjectList,
  readString,
  readStringList,
} from '../http.ts';
import {
  parameterArn,
  splitSelector,
  validateExistingParameterName,
  validateNewParameterName,
  validatePath,
} from './parameter-names.ts';

/** The parameter types Parameter Store knows. */
export type ParameterType = 'String' | 'StringList' | 'SecureString';

/** One stored version of a parameter. */
export interface ParameterVersion {
  readonly name: string;
  readonly type: ParameterType;
  /** The plaintext (for a SecureString too: the emulator keeps it to answer `WithDecryption`). */
  readonly value: string;
  /** What a SecureString reads as without `WithDecryption`: an opaque, KMS-ciphertext-like base64 string. */
  readonly ciphertext?: string | undefined;
  readonly version: number;
  /** Epoch milliseconds. */
  readonly lastModified: number;
  readonly keyId?: string | undefined;
  readonly description?: string | undefined;
  readonly allowedPattern?: string | undefined;
  readonly tier: 'Standard' | 'Advanced';
  readonly dataType: string;
}

/** Every parameter's version history, oldest first, keyed by name: the persisted form. */
export type ParameterHistories = Record<string, ParameterVersion[]>;

const TYPES: readonly ParameterType[] = ['String', 'StringList', 'SecureString'];
const DEFAULT_KEY_ID = 'alias/aws/ssm';
/** Parameter Store keeps the last 100 versions of a parameter. */
const MAX_VERSIONS = 100;
const STANDARD_MAX_VALUE_BYTES = 4096;
const ADVANCED_MAX_VALUE_BYTES = 8192;
const MAX_RESULTS_BY_PATH = 10;
const MAX_NAMES_PER_CALL = 10;

function validationError(message: string): AwsJsonError {
  return new AwsJsonError('ValidationException', message, { messageField: 'Message' });
}

function constraintError(value: string, member: string, constraint: string): AwsJsonError {
  return validationError(
    `1 validation error detected: Value '${value}' at '${member}' failed to satisfy constraint: ${constraint}`,
  );
}

function required(input: JsonObject, field: string, member: string): string {
  const value = readString(input, field);
  if (value === undefined) {
    throw constraintError('null', member, 'Member must not be null');
  }
  return value;
}

function parameterNotFound(): AwsJsonError {
  // The service answers a missing parameter with an empty message.
  return new AwsJsonError('ParameterNotFound', '');
}

/** The opaque pagination token of `GetParametersByPath`: which listing it continues and after which name. */
interface PathToken {
  readonly path: string;
  readonly recursive: boolean;
  readonly after: string;
}

function encodeToken(token: PathToken): string {
  return Buffer.from(JSON.stringify(token), 'utf8').toString('base64');
}

function decodeToken(raw: string, path: string, recursive: boolean): PathToken {
  const invalid = new AwsJsonError('InvalidNextToken', "The specified token isn't valid.", {
    messageField: 'Message',
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) throw invalid;
    throw error;
  }
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    (parsed as PathToken).path !== path ||
    (parsed as PathToken).recursive !== recursive ||
    typeof (parsed as PathToken).after !== 'string'
  ) {
    throw invalid;
  }
  return parsed as PathToken;
}

/** Produces ciphertext-looking bytes: the version-1 KMS envelope header (`AQICAH…` in base64), then noise. */
function fakeCiphertext(plaintext: string): string {
  const header = Buffer.from([0x01, 0x02, 0x02, 0x00, 0x78]);
  return Buffer.concat([header, randomBytes(64 + Buffer.byteLength(plaintext, 'utf8'))]).toString('base64');
}

/** Options of a {@link ParameterStore}. */
export interface ParameterStoreOptions {
  readonly region: string;
  readonly accountId: string;
  readonly histories?: ParameterHistories | undefined;
  /** Called after every change with the full state, to persist it. */
  readonly onChange?: ((histories: ParameterHistories) => void) | undefined;
  readonly now?: () => number;
}

/** Parameter Store semantics over an in-memory map. */
export class ParameterStore {
  readonly #histories: Map<string, ParameterVersion[]>;
  readonly #region: string;
  readonly #accountId: string;
  readonly #onChange: ((histories: ParameterHistories) => void) | undefined;
  readonly #now: () => number;

  constructor(options: ParameterStoreOptions) {
    this.#region = options.region;
    this.#accountId = options.accountId;
    this.#onChange = options.onChange;
    this.#now = options.now ?? Date.now;
    this.#histories = new Map(Object.entries(options.histories ?? {}));
  }

  /** The whole state, as persisted. */
  snapshot(): ParameterHistories {
    return Object.fromEntries([...this.#histories].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** `PutParameter`. */
  putParameter(input: JsonObject): JsonObject {
    const arnPrefixLength = parameterArn(this.#region, this.#accountId, '').length;
    const name = validateNewParameterName(required(input, 'Name', 'name'), arnPrefixLength);
    const value = required(input, 'Value', 'value');
    const requestedType = readString(input, 'Type');
    const keyId = readString(input, 'KeyId');
    const overwrite = readBoolean(input, 'Overwrite') ?? false;
    const description = readString(input, 'Description');
    const allowedPattern = readString(input, 'AllowedPattern');
    const requestedTier = readString(input, 'Tier') ?? 'Standard';
    const dataType = readString(input, 'DataType') ?? 'text';

    if (value === '') {
      throw constraintError('', 'value', 'Member must have length greater than or equal to 1');
    }
    if (requestedType !== undefined && !TYPES.includes(requestedType as ParameterType)) {
      throw constraintError(
        requestedType,
        'type',
        'Member must satisfy enum value set: [SecureString, StringList, String]',
      );
    }
    if (!['Standard', 'Advanced', 'Intelligent-Tiering'].includes(requestedTier)) {
      throw constraintError(
        requestedTier,
        'tier',
        'Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]',
      );
    }
    const history = this.#histories.get(name);
    const current = history?.at(-1);
    if (current !== undefined && !overwrite) {
      throw new AwsJsonError(
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      );
    }
    const type = (requestedType as ParameterType | undefined) ?? current?.type;
    if (type === undefined) {
      throw validationError('A parameter type is required when you create a parameter.');
    }
    if (keyId !== undefined && type !== 'SecureString') {
      throw validationError('KeyId is only valid for SecureString parameters.');
    }
    const bytes = Buffer.byteLength(value, 'utf8');
    const tier = this.#resolveTier(requestedTier, bytes, current?.tier);
    if (allowedPattern !== undefined) this.#checkPattern(allowedPattern, value);

    const next: ParameterVersion = {
      name,
      type,
      value,
      ciphertext: type === 'SecureString' ? fakeCiphertext(value) : undefined,
      version: (current?.version ?? 0) + 1,
      lastModified: this.#now(),
      keyId: type === 'SecureString' ? (keyId ?? current?.keyId ?? DEFAULT_KEY_ID) : undefined,
      description: description ?? current?.description,
      allowedPattern: allowedPattern ?? current?.allowedPattern,
      tier,
      dataType,
    };
    const versions = [...(history ?? []), next].slice(-MAX_VERSIONS);
    this.#histories.set(name, versions);
    this.#changed();
    return { Version: next.version, Tier: next.tier };
  }

  /** `GetParameter` (with an optional `:version` selector). */
  getParameter(input: JsonObject): JsonObject {
    const reference = required(input, 'Name', 'name');
    const withDecryption = readBoolean(input, 'WithDecryption') ?? false;
    const found = this.#resolve(reference);
    return { Parameter: this.#describe(found.version, withDecryption, found.selector) };
  }

  /** `GetParameters`: found parameters, and the names that were not (`InvalidParameters`). */
  getParameters(input: JsonObject): JsonObject {
    const names = readStringList(input, 'Names');
    if (names === undefined) throw constraintError('null', 'names', 'Member must not be null');
    this.#checkNameCount(names, 'names');
    const withDecryption = readBoolean(input, 'WithDecryption') ?? false;
    const parameters: JsonObject[] = [];
    const invalid: string[] = [];
    for (const reference of new Set(names)) {
      try {
        const found = this.#resolve(reference);
        parameters.push(this.#describe(found.version, withDecryption, found.selector));
      } catch (error) {
        if (!(error instanceof AwsJsonError)) throw error;
        invalid.push(reference);
      }
    }
    return { Parameters: parameters, InvalidParameters: invalid };
  }

  /** `GetParametersByPath`: one page, sorted by name, with a `NextToken` while more remain. */
  getParametersByPath(input: JsonObject): JsonObject {
    const path = validatePath(required(input, 'Path', 'path'));
    const recursive = readBoolean(input, 'Recursive') ?? false;
    const withDecryption = readBoolean(input, 'WithDecryption') ?? false;
    const maxResults = readNumber(input, 'MaxResults') ?? MAX_RESULTS_BY_PATH;
    const nextToken = readString(input, 'NextToken');
    const filters = readObjectList(input, 'ParameterFilters');
    if (maxResults > MAX_RESULTS_BY_PATH) {
      throw constraintError(
        String(maxResults),
        'maxResults',
        `Member must have value less than or equal to ${MAX_RESULTS_BY_PATH}`,
      );
    }
    if (maxResults < 1) {
      throw constraintError(
        String(maxResults),
        'maxResults',
        'Member must have value greater than or equal to 1',
      );
    }
    const matchesFilters = this.#filterPredicate(filters ?? []);
    const after = nextToken === undefined ? undefined : decodeToken(nextToken, path, recursive).after;
    const prefix = path === '/' ? '/' : `${path}/`;
    const names = [...this.#histories.keys()]
      .filter((name) => name.startsWith(prefix) && name.length > prefix.length)
      .filter((name) => recursive || !name.slice(prefix.length).includes('/'))
      .filter((name) => after === undefined || name > after)
      .sort();
    const page: ParameterVersion[] = [];
    let more = false;
    for (const name of names) {
      const latest = this.#histories.get(name)?.at(-1);
      if (latest === undefined || !matchesFilters(latest)) continue;
      if (page.length === maxResults) {
        more = true;
        break;
      }
      page.push(latest);
    }
    const last = page.at(-1);
    return {
      Parameters: page.map((version) => this.#describe(version, withDecryption, undefined)),
      ...(more && last !== undefined
        ? { NextToken: encodeToken({ path, recursive, after: last.name }) }
        : {}),
    };
  }

  /** `DeleteParameter`. */
  deleteParameter(input: JsonObject): JsonObject {
    const name = required(input, 'Name', 'name');
    validateExistingParameterName(name);
    if (!this.#histories.delete(name)) throw parameterNotFound();
    this.#changed();
    return {};
  }

  /** `DeleteParameters`: deleted names, and the names that did not exist (`InvalidParameters`). */
  deleteParameters(input: JsonObject): JsonObject {
    const names = readStringList(input, 'Names');
    if (names === undefined) throw constraintError('null', 'names', 'Member must not be null');
    this.#checkNameCount(names, 'names');
    const deleted: string[] = [];
    const invalid: string[] = [];
    for (const name of new Set(names)) {
      if (this.#histories.delete(name)) deleted.push(name);
      else invalid.push(name);
    }
    if (deleted.length > 0) this.#changed();
    return { DeletedParameters: deleted, InvalidParameters: invalid };
  }

  #checkNameCount(names: readonly string[], member: string): void {
    if (names.length < 1) {
      throw constraintError('[]', member, 'Member must have length greater than or equal to 1');
    }
    if (names.length > MAX_NAMES_PER_CALL) {
      throw constraintError(
        `[${names.join(', ')}]`,
        member,
        `Member must have length less than or equal to ${MAX_NAMES_PER_CALL}`,
      );
    }
  }

  #resolveTier(requested: string, bytes: number, currentTier: 'Standard' | 'Advanced' | undefined) {
    const limit = requested === 'Standard' ? STANDARD_MAX_VALUE_BYTES : ADVANCED_MAX_VALUE_BYTES;
    if (bytes > limit) {
      throw validationError(
        requested === 'Standard'
          ? `Standard tier parameters support a maximum parameter value of ${STANDARD_MAX_VALUE_BYTES} characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.`
          : `Advanced tier parameters support a maximum parameter value of ${ADVANCED_MAX_VALUE_BYTES} characters.`,
      );
    }
    if (requested === 'Advanced' || currentTier === 'Advanced') return 'Advanced' as const;
    if (requested === 'Intelligent-Tiering' && bytes > STANDARD_MAX_VALUE_BYTES) return 'Advanced' as const;
    return 'Standard' as const;
  }

  #checkPattern(pattern: string, value: string): void {
    let expression: RegExp;
    try {
      expression = new RegExp(pattern);
    } catch (error) {
      if (error instanceof SyntaxError) {
        throw new AwsJsonError(
          'InvalidAllowedPatternException',
          `The allowed pattern ${pattern} is not valid.`,
        );
      }
      throw error;
    }
    if (!expression.test(value)) {
      throw new AwsJsonError(
        'ParameterPatternMismatchException',
        `Parameter value, cannot be validated against allowedPattern: ${pattern}`,
      );
    }
  }

  #filterPredicate(filters: readonly JsonObject[]): (version: ParameterVersion) => boolean {
    const checks = filters.map((filter) => {
      const key = readString(filter, 'Key');
      const option = readString(filter, 'Option') ?? 'Equals';
      const values = readStringList(filter, 'Values') ?? [];
      if ((key !== 'Type' && key !== 'KeyId') || option !== 'Equals') {
        throw new AwsJsonError(
          'InvalidFilterKey',
          `The emulator supports the filters Type and KeyId with the option Equals, not ${key} ${option}.`,
        );
      }
      return (version: ParameterVersion): boolean =>
        values.includes((key === 'Type' ? version.type : version.keyId) ?? '');
    });
    return (version) => checks.every((check) => check(version));
  }

  #resolve(reference: string): { version: ParameterVersion; selector: string | undefined } {
    const { name, selector } = splitSelector(reference);
    validateExistingParameterName(name);
    const history = this.#histories.get(name);
    if (history === undefined || history.length === 0) throw parameterNotFound();
    if (selector === undefined) {
      const latest = history.at(-1);
      if (latest === undefined) throw parameterNotFound();
      return { version: latest, selector };
    }
    const wanted = /^\d+$/.test(selector) ? Number(selector) : Number.NaN;
    const version = history.find((candidate) => candidate.version === wanted);
    if (version === undefined) {
      throw new AwsJsonError(
        'ParameterVersionNotFound',
        `Systems Manager could not find version ${selector} of ${name}. Verify the version and try again. (Labels are not supported by this emulator.)`,
      );
    }
    return { version, selector: `:${selector}` };
  }

  #describe(version: ParameterVersion, withDecryption: boolean, selector: string | undefined): JsonObject {
    const value =
      version.type === 'SecureString' && !withDecryption ? (version.ciphertext ?? '') : version.value;
    return {
      Name: version.name,
      Type: version.type,
      Value: value,
      Version: version.version,
      LastModifiedDate: version.lastModified / 1000,
      ARN: parameterArn(this.#region, this.#accountId, version.name),
      DataType: version.dataType,
      ...(selector === undefined ? {} : { Selector: selector }),
    };
  }

  #changed(): void {
    this.#onChange?.(this.snapshot());
  }
}
