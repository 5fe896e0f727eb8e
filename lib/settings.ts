/**
 * The integration settings stored in SSM Parameter Store under `/ticket-dropbox-sync/<instance>/`.
 *
 * One zod schema per group (the rule settings, the Dropbox credentials) is the single source of truth for the
 * parameter names, their allowed values and their defaults; {@link SETTING_DEFINITIONS} is derived from it, and the
 * function, the CLI and the local stack all read it. Written with `zod/mini`, zod's tree-shakable API: the classic
 * API pulls every locale into the function's bundle (264 KB, about 50 ms of its cold start; BENCHMARKS.md). Every
 * message is the project's own, so no locale is needed.
 * The rule settings are a schema of their own so that the rules can be evaluated without any secret.
 */
import * as z from 'zod/mini';
import {
  FILE_NAME_TOKENS,
  isRefusedName,
  MAX_COMPONENT_UNITS,
  normaliseBaseFolder,
  sanitiseComponent,
} from './dropbox-path.ts';
import { SyncError } from './errors.ts';

/** Which files `export-by-status` lets through (service tickets export under every value). */
export type ExportByStatus = 'non-final' | 'final' | 'all';
/** What a write does when a different file already sits at the target path. */
export type OnConflict = 'rename' | 'overwrite';
/** `auto`: the team space root when the account has one; `home`: the user's home namespace. */
export type PathRootMode = 'auto' | 'home';

/** The settings the rules need: no secret among them. */
export interface RuleSettings {
  readonly exportByStatus: ExportByStatus;
  /** `export-to-single-folder`: `yes` = true. */
  readonly exportToSingleFolder: boolean;
  /** Normalised: `''` for the root, else `/A/B` (case kept, no trailing slash). */
  readonly baseFolder: string;
  readonly fileNameTemplate: string;
  readonly onConflict: OnConflict;
}

/** The Dropbox connection, as `connect` stores it. Secrets are used exactly as stored. */
export interface DropboxCredentials {
  readonly appKey: string;
  readonly refreshToken: string;
  /** Absent for PKCE apps. */
  readonly appSecret?: string | undefined;
  readonly pathRoot: PathRootMode;
}

/** Every setting of an instance. */
export interface Settings {
  readonly rules: RuleSettings;
  /** `undefined` when Dropbox is not connected (neither app key nor refresh token set). */
  readonly dropbox: DropboxCredentials | undefined;
}

/** Parameter values by name relative to the instance path: `export-by-status`, `dropbox/app-key`, … */
export type RawSettings = Readonly<Record<string, string | undefined>>;

/** One bad parameter. */
export interface SettingProblem {
  readonly parameter: string;
  /** A sentence naming the parameter and its allowed values; never a secret's value. */
  readonly message: string;
}

/** Settings that cannot be used. Account-wide: every record would fail the same way until an admin fixes them. */
export class InvalidSettingsError extends SyncError {
  readonly problems: readonly SettingProblem[];

  constructor(problems: readonly SettingProblem[]) {
    super(`Invalid settings: ${problems.map((problem) => problem.message).join(' ')}`, {
      kind: 'account',
      code: 'invalid-settings',
    });
    this.name = 'InvalidSettingsError';
    this.problems = problems;
  }
}

/** How the CLI (`config show|set`) and the README describe one parameter. */
export interface SettingDefinition {
  readonly name: string;
  readonly group: 'rules' | 'dropbox';
  /** Stored as a SecureString; its value is never printed. */
  readonly secret: boolean;
  readonly default?: string;
  readonly allowed?: readonly string[];
  readonly description: string;
}

type SettingMeta = Omit<SettingDefinition, 'name' | 'group'>;

/** Where each field schema's definition is kept, next to the schema itself. */
const settingRegistry = z.registry<SettingMeta>();

const SHOWN_VALUE_MAX = 80;

function showValue(value: string): string {
  return JSON.stringify(value.length > SHOWN_VALUE_MAX ? `${value.slice(0, SHOWN_VALUE_MAX)}…` : value);
}

function normaliseEnumInput(value: unknown): unknown {
  return typeof value === 'string' ? value.trim().toLowerCase() : value;
}

function defineEnum<const Values extends readonly [string, ...string[]]>(
  name: string,
  values: Values,
  defaultValue: Values[number],
  description: string,
) {
  const schema = z.pipe(
    z.transform(normaliseEnumInput),
    z._default(
      z.enum(values, {
        error: (issue) =>
          typeof issue.input === 'string'
            ? `${name} must be one of ${values.join(', ')} (got ${showValue(issue.input)}).`
            : `${name} must be a string, one of ${values.join(', ')}.`,
      }),
      defaultValue,
    ),
  );
  settingRegistry.add(schema, { secret: false, default: defaultValue, allowed: values, description });
  return schema;
}

function findBaseFolderProblem(value: string): string | null {
  const normalised = normaliseBaseFolder(value);
  for (const component of normalised.split('/').slice(1)) {
    if (component === '.' || component === '..') {
      return `base-folder must not contain "." or ".." folders (got ${showValue(value)}).`;
    }
    if (isRefusedName(component)) {
      return `base-folder holds a folder name Dropbox refuses, ${showValue(component)} (got ${showValue(value)}).`;
    }
    if (component.length > MAX_COMPONENT_UNITS) {
      return `base-folder has a folder name longer than ${MAX_COMPONENT_UNITS} characters (got ${showValue(value)}).`;
    }
    if (sanitiseComponent(component) !== component) {
      return (
        `base-folder must be a Dropbox path whose folder names hold no backslash or control character ` +
        `and do not end with a space or a dot (got ${showValue(value)}).`
      );
    }
  }
  return null;
}

const BASE_FOLDER_DEFAULT = '/Ticket Files';
const baseFolderSchema = z.pipe(
  z
    ._default(
      z.string({ error: 'base-folder must be a string, a Dropbox path such as /Ticket Files.' }),
      BASE_FOLDER_DEFAULT,
    )
    .check(
      z.superRefine((value: string, context) => {
        const problem = findBaseFolderProblem(value);
        if (problem !== null) context.addIssue({ code: 'custom', message: problem });
      }),
    ),
  z.transform(normaliseBaseFolder),
);
settingRegistry.add(baseFolderSchema, {
  secret: false,
  default: BASE_FOLDER_DEFAULT,
  description:
    'The Dropbox folder the files go to, case kept; "/" is the root of the Dropbox (or app folder).',
});

const KNOWN_TOKENS_TEXT = FILE_NAME_TOKENS.map((token) => `{${token}}`).join(', ');
const TEMPLATE_DEFAULT = '{fileName}';
const templateSchema = z
  ._default(
    z.string({ error: `file-name-template must be a string using the tokens ${KNOWN_TOKENS_TEXT}.` }),
    TEMPLATE_DEFAULT,
  )
  .check(
    z.superRefine((value: string, context) => {
      const problem = findTemplateProblem(value);
      if (problem !== null) context.addIssue({ code: 'custom', message: problem });
    }),
  );
settingRegistry.add(templateSchema, {
  secret: false,
  default: TEMPLATE_DEFAULT,
  description: `How the Dropbox file is named, from the tokens ${KNOWN_TOKENS_TEXT}; a token with no value renders empty.`,
});

function findTemplateProblem(template: string): string | null {
  if (template.trim() === '') {
    return `file-name-template must not be empty; use tokens such as ${TEMPLATE_DEFAULT}.`;
  }
  const known = new Set<string>(FILE_NAME_TOKENS);
  const unknown = [...template.matchAll(/\{([^{}]*)\}/g)]
    .map((match) => match[1] ?? '')
    .filter((token) => !known.has(token));
  if (unknown.length === 0) return null;
  const listed = [...new Set(unknown)].map((token) => `{${token}}`).join(', ');
  return `file-name-template has unknown token${unknown.length > 1 ? 's' : ''} ${listed}; the known tokens are ${KNOWN_TOKENS_TEXT}.`;
}

const ruleShape = {
  'export-by-status': defineEnum(
    'export-by-status',
    ['non-final', 'final', 'all'],
    'non-final',
    'Which files export: non-final (not yet final), final (only final), or all. Service ticket files always export.',
  ),
  'export-to-single-folder': defineEnum(
    'export-to-single-folder',
    ['yes', 'no'],
    'yes',
    'yes: every file goes to the base folder; no: into publication/issue or product alias folders under it.',
  ),
  'base-folder': baseFolderSchema,
  'file-name-template': templateSchema,
  'on-conflict': defineEnum(
    'on-conflict',
    ['rename', 'overwrite'],
    'rename',
    'rename keeps both files (Dropbox adds " (1)"); overwrite replaces the file at the same path.',
  ),
} as const;

function defineCredential(name: string, secret: boolean, description: string) {
  const schema = z.optional(z.string({ error: `${name} must be a string.` })).check(
    z.superRefine((value: string | undefined, context) => {
      if (value === undefined) return;
      if (value === '') {
        context.addIssue({ code: 'custom', message: `${name} is set but empty; run connect again.` });
      } else if (value.trim() !== value || /\s|\p{Cc}/u.test(value)) {
        context.addIssue({
          code: 'custom',
          message: `${name} holds whitespace or control characters; it is used exactly as stored, so store it again without them.`,
        });
      }
    }),
  );
  settingRegistry.add(schema, { secret, description });
  return schema;
}

const credentialShape = {
  'dropbox/app-key': defineCredential('dropbox/app-key', false, 'The Dropbox app key, stored by connect.'),
  'dropbox/refresh-token': defineCredential(
    'dropbox/refresh-token',
    true,
    'The OAuth refresh token (SecureString), stored by connect.',
  ),
  'dropbox/app-secret': defineCredential(
    'dropbox/app-secret',
    true,
    'The app secret (SecureString); not needed for PKCE apps.',
  ),
  'dropbox/path-root': defineEnum(
    'dropbox/path-root',
    ['auto', 'home'],
    'auto',
    "auto: write relative to the team space root when the account has one; home: the user's own folder.",
  ),
} as const;

/** The rule settings schema: flat parameter map in, {@link RuleSettings} out. */
export const ruleSettingsSchema = z.pipe(
  z.object(ruleShape),
  z.transform(
    (raw): RuleSettings => ({
      exportByStatus: raw['export-by-status'],
      exportToSingleFolder: raw['export-to-single-folder'] === 'yes',
      baseFolder: raw['base-folder'],
      fileNameTemplate: raw['file-name-template'],
      onConflict: raw['on-conflict'],
    }),
  ),
);

/** The Dropbox credentials schema (without the app-key/refresh-token pairing, checked by {@link parseSettings}). */
export const dropboxCredentialsSchema = z.object(credentialShape);

const allShapes: Readonly<Record<string, z.ZodMiniType>> = { ...ruleShape, ...credentialShape };

function defineAll(
  shape: Readonly<Record<string, z.ZodMiniType>>,
  group: 'rules' | 'dropbox',
): SettingDefinition[] {
  return Object.entries(shape).map(([name, schema]) => {
    const meta = settingRegistry.get(schema);
    if (meta === undefined) throw new Error(`Setting ${name} has no definition.`);
    return { name, group, ...meta };
  });
}

/** Every parameter an instance reads, in display order (for `config show|set` and the README). */
export const SETTING_DEFINITIONS: readonly SettingDefinition[] = [
  ...defineAll(ruleShape, 'rules'),
  ...defineAll(credentialShape, 'dropbox'),
];

const secretNames = new Set(
  SETTING_DEFINITIONS.filter((definition) => definition.secret).map((definition) => definition.name),
);

/** The names of the rule settings: evaluating the rules needs only these. */
export const RULE_SETTING_NAMES: readonly string[] = Object.keys(ruleShape);

/** The names of the Dropbox credential parameters. */
export const DROPBOX_SETTING_NAMES: readonly string[] = Object.keys(credentialShape);

function problemsOf(error: z.core.$ZodError): SettingProblem[] {
  const problems = new Map<string, SettingProblem>();
  for (const issue of error.issues) {
    const parameter = String(issue.path[0] ?? '');
    if (problems.has(parameter)) continue;
    // zod's own messages may quote the input; for a secret only ours (which never do) are kept.
    const message =
      secretNames.has(parameter) && issue.code !== 'custom'
        ? `${parameter} must be a non-empty string.`
        : issue.message;
    problems.set(parameter, { parameter, message });
  }
  return [...problems.values()];
}

function pickNames(raw: RawSettings, names: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names) picked[name] = raw[name];
  return picked;
}

function parseRules(raw: RawSettings): { settings?: RuleSettings; problems: SettingProblem[] } {
  const result = ruleSettingsSchema.safeParse(pickNames(raw, RULE_SETTING_NAMES));
  return result.success ? { settings: result.data, problems: [] } : { problems: problemsOf(result.error) };
}

/**
 * Parses the rule settings from the flat parameter map, applying the defaults. Credential entries are ignored.
 * @throws InvalidSettingsError listing every bad parameter.
 */
export function parseRuleSettings(raw: RawSettings): RuleSettings {
  const { settings, problems } = parseRules(raw);
  if (settings === undefined) throw new InvalidSettingsError(problems);
  return settings;
}

function findPairingProblems(raw: RawSettings): SettingProblem[] {
  const hasKey = raw['dropbox/app-key'] !== undefined;
  const hasToken = raw['dropbox/refresh-token'] !== undefined;
  const hasSecret = raw['dropbox/app-secret'] !== undefined;
  if (hasKey && !hasToken) {
    return [
      {
        parameter: 'dropbox/refresh-token',
        message: 'dropbox/refresh-token is missing while dropbox/app-key is set; run connect again.',
      },
    ];
  }
  if (hasToken && !hasKey) {
    return [
      {
        parameter: 'dropbox/app-key',
        message: 'dropbox/app-key is missing while dropbox/refresh-token is set; run connect again.',
      },
    ];
  }
  if (hasSecret && !hasKey) {
    return [
      {
        parameter: 'dropbox/app-secret',
        message:
          'dropbox/app-secret is set without dropbox/app-key and dropbox/refresh-token; run connect again.',
      },
    ];
  }
  return [];
}

/**
 * Parses every setting of an instance. `dropbox` is `undefined` when neither `dropbox/app-key` nor
 * `dropbox/refresh-token` is set; one without the other is a problem.
 * @throws InvalidSettingsError listing every bad parameter (never a secret's value).
 */
export function parseSettings(raw: RawSettings): Settings {
  const rules = parseRules(raw);
  const credentials = dropboxCredentialsSchema.safeParse(pickNames(raw, DROPBOX_SETTING_NAMES));
  const problems = [...rules.problems];
  if (!credentials.success) problems.push(...problemsOf(credentials.error));
  for (const problem of findPairingProblems(raw)) {
    if (!problems.some((known) => known.parameter === problem.parameter)) problems.push(problem);
  }
  if (rules.settings === undefined || !credentials.success || problems.length > 0) {
    throw new InvalidSettingsError(problems);
  }
  const values = credentials.data;
  const appKey = values['dropbox/app-key'];
  const refreshToken = values['dropbox/refresh-token'];
  const dropbox =
    appKey !== undefined && refreshToken !== undefined
      ? {
          appKey,
          refreshToken,
          appSecret: values['dropbox/app-secret'],
          pathRoot: values['dropbox/path-root'],
        }
      : undefined;
  return { rules: rules.settings, dropbox };
}

/**
 * Checks one value before `config set` stores it.
 * @returns the problem, or `null` when the value is valid; an unknown name is a problem too.
 */
export function validateSetting(name: string, value: string): SettingProblem | null {
  const schema = Object.hasOwn(allShapes, name) ? allShapes[name] : undefined;
  if (schema === undefined) {
    return {
      parameter: name,
      message: `${showValue(name)} is not a setting; the settings are ${SETTING_DEFINITIONS.map((definition) => definition.name).join(', ')}.`,
    };
  }
  const result = z.object({ [name]: schema }).safeParse({ [name]: value });
  return result.success ? null : (problemsOf(result.error)[0] ?? null);
}

/** True when the parameter is stored as a SecureString and its value must never be shown. */
export function isSecretSetting(name: string): boolean {
  return secretNames.has(name);
}
