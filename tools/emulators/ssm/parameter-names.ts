/**
 * Parameter Store's naming rules, as AWS documents them for `PutParameter` and `GetParametersByPath`:
 * case-sensitive names of `a-zA-Z0-9_.-` segments split by `/`, a leading `/` for any hierarchy, no `aws` / `ssm`
 * prefix (case-insensitive) on names you create, at most 15 hierarchy levels, and at most 1011 characters counting
 * the ARN prefix in front of the name.
 */
import { AwsJsonError } from '../http.ts';

/** AWS counts the ARN prefix (`arn:aws:ssm:REGION:ACCOUNT:parameter/`) in a name's 1011-character limit. */
const MAX_NAME_WITH_ARN_PREFIX = 1011;
const MAX_HIERARCHY_LEVELS = 15;
const SEGMENT = /^[a-zA-Z0-9_.-]+$/;

const NAME_RULES_MESSAGE =
  'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can ' +
  'consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and ' +
  'the following 3 symbols .-_';

const PATH_RULES_MESSAGE =
  "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward " +
  'slash "/". It can\'t be prefixed with "aws" or "ssm" (case-insensitive). It must use only letters, numbers, ' +
  'or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All ' +
  'sub-paths, if specified, must use the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.';

function validationError(message: string): AwsJsonError {
  return new AwsJsonError('ValidationException', message, { messageField: 'Message' });
}

function hierarchyError(): AwsJsonError {
  return new AwsJsonError(
    'HierarchyLevelLimitExceededException',
    `A hierarchy can have a maximum of ${MAX_HIERARCHY_LEVELS} levels.`,
  );
}

function hasReservedPrefix(name: string): boolean {
  const bare = name.startsWith('/') ? name.slice(1) : name;
  return /^(aws|ssm)/i.test(bare);
}

/** The part of an ARN after `parameter/`: the name without its leading slash. */
export function parameterArn(region: string, accountId: string, name: string): string {
  return `arn:aws:ssm:${region}:${accountId}:parameter/${name.startsWith('/') ? name.slice(1) : name}`;
}

/**
 * Checks a name for `PutParameter` and returns it with surrounding spaces removed (the service trims them);
 * throws `ValidationException` or `HierarchyLevelLimitExceededException` as AWS does.
 */
export function validateNewParameterName(rawName: string, arnPrefixLength: number): string {
  const name = rawName.trim();
  if (name === '') {
    throw validationError(
      "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  if (arnPrefixLength + name.replace(/^\//, '').length > MAX_NAME_WITH_ARN_PREFIX) {
    throw validationError(
      `Parameter name is too long. A parameter name, including the ARN prefix, can have at most ${MAX_NAME_WITH_ARN_PREFIX} characters.`,
    );
  }
  checkNameShape(name, NAME_RULES_MESSAGE);
  if (hasReservedPrefix(name)) throw validationError(NAME_RULES_MESSAGE);
  return name;
}

/** Checks a name used to read or delete (reserved prefixes are readable: AWS publishes public parameters under `/aws/`). */
export function validateExistingParameterName(name: string): void {
  if (name === '') {
    throw validationError(
      "1 validation error detected: Value '' at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  checkNameShape(name, NAME_RULES_MESSAGE);
}

function checkNameShape(name: string, message: string): void {
  const hierarchical = name.includes('/');
  if (hierarchical && !name.startsWith('/')) throw validationError(message);
  const segments = (name.startsWith('/') ? name.slice(1) : name).split('/');
  if (segments.some((segment) => !SEGMENT.test(segment))) throw validationError(message);
  if (segments.length > MAX_HIERARCHY_LEVELS) throw hierarchyError();
}

/**
 * Checks a `GetParametersByPath` path (it must begin with `/`; `/` alone is the root) and returns it without a
 * trailing slash (`/a/b/` reads as `/a/b`).
 */
export function validatePath(path: string): string {
  if (!path.startsWith('/')) throw validationError(PATH_RULES_MESSAGE);
  if (path === '/') return path;
  const normalised = path.endsWith('/') ? path.slice(0, -1) : path;
  const segments = normalised.slice(1).split('/');
  if (segments.some((segment) => !SEGMENT.test(segment))) throw validationError(PATH_RULES_MESSAGE);
  if (segments.length > MAX_HIERARCHY_LEVELS) throw hierarchyError();
  return normalised;
}

/**
 * Splits `name:selector` (a version number or a label, as `GetParameter` accepts) into its parts.
 */
export function splitSelector(reference: string): { name: string; selector: string | undefined } {
  const colon = reference.lastIndexOf(':');
  if (colon < 0) return { name: reference, selector: undefined };
  return { name: reference.slice(0, colon), selector: reference.slice(colon + 1) };
}
