/**
 * `config show | validate | set NAME VALUE | unset NAME`: the settings in SSM Parameter Store, read by the
 * function's own loader and checked by the function's own schema. Secret values are never printed: a secret
 * shows only as set or not set.
 */
import { loadRawSettings, normaliseSettingsPath } from '../../lib/aws/settings-store.ts';
import {
  InvalidSettingsError,
  parseSettings,
  type RawSettings,
  SETTING_DEFINITIONS,
  type SettingDefinition,
  type SettingProblem,
  validateSetting,
} from '../../lib/settings.ts';
import type { CommandContext } from '../context.ts';
import { CliUsageError, CommandFailedError, EXIT_FAILED, EXIT_OK } from '../errors.ts';
import { releaseBreakerAfterFix } from '../flow.ts';
import { formatTable } from '../format.ts';
import { printJson, printLines, readSecretLine } from '../io.ts';
import { deleteSetting, type ParameterStorage, putSetting } from '../settings-store.ts';

/** One row of `config show`. */
export interface SettingView {
  readonly name: string;
  readonly group: 'rules' | 'dropbox' | 'unknown';
  readonly secret: boolean;
  /** Whether a parameter is stored for it. */
  readonly set: boolean;
  /** The stored value; `null` for secrets, unknown parameters and unset settings. */
  readonly value: string | null;
  /** The value in force: the stored one, else the default; `null` for secrets or when there is none. */
  readonly effective: string | null;
  readonly default: string | null;
  readonly allowed: readonly string[] | null;
  /** Why the stored value is refused, when it is. */
  readonly problem: string | null;
}

/** Describes every setting of an instance from its raw parameters, never exposing a secret value. */
export function describeSettings(raw: RawSettings): SettingView[] {
  const known = new Set(SETTING_DEFINITIONS.map((definition) => definition.name));
  const views = SETTING_DEFINITIONS.map((definition) => describeSetting(definition, raw[definition.name]));
  for (const name of Object.keys(raw).sort()) {
    if (known.has(name)) continue;
    // A parameter the product does not read: its value may be anything, including someone's secret.
    views.push({
      name,
      group: 'unknown',
      secret: false,
      set: true,
      value: null,
      effective: null,
      default: null,
      allowed: null,
      problem: 'not a setting of ticket-dropbox-sync: ignored',
    });
  }
  return views;
}

function describeSetting(definition: SettingDefinition, stored: string | undefined): SettingView {
  const set = stored !== undefined;
  const problem = set ? validateSetting(definition.name, stored) : null;
  const shown = definition.secret ? null : (stored ?? null);
  return {
    name: definition.name,
    group: definition.group,
    secret: definition.secret,
    set,
    value: shown,
    effective: definition.secret ? null : set ? shown : (definition.default ?? null),
    default: definition.default ?? null,
    allowed: definition.allowed ?? null,
    problem: problem?.message ?? null,
  };
}

function displayValue(view: SettingView): string {
  if (view.group === 'unknown') return '(not shown)';
  if (view.secret) return view.set ? 'set (secret, not shown)' : 'not set';
  if (view.set) return JSON.stringify(view.value);
  return view.effective === null ? 'not set' : `${JSON.stringify(view.effective)} (default)`;
}

async function readRaw(context: CommandContext): Promise<{ raw: RawSettings; settingsPath: string }> {
  const deployment = await context.deployment();
  const clients = await context.clients();
  const settingsPath = normaliseSettingsPath(deployment.outputs.settingsPath);
  const raw = await loadRawSettings(clients.ssm, settingsPath);
  return { raw, settingsPath };
}

/** `config show`. */
export async function showConfig(
  context: CommandContext,
  options: { readonly json?: boolean },
): Promise<number> {
  const { raw, settingsPath } = await readRaw(context);
  const views = describeSettings(raw);
  if (options.json === true) {
    printJson(context.io, { settingsPath, settings: views });
    return EXIT_OK;
  }
  printLines(context.io, `Settings under ${settingsPath}`, '');
  const rows = views.map((view) => [
    view.name,
    displayValue(view),
    view.problem === null ? '' : `! ${view.problem}`,
  ]);
  printLines(context.io, ...formatTable(['NAME', 'VALUE', ''], rows));
  const bad = views.filter((view) => view.problem !== null && view.group !== 'unknown').length;
  if (bad > 0)
    printLines(context.io, '', `${bad} invalid value(s): run \`config validate\` for the details.`);
  return EXIT_OK;
}

/** Every problem of the stored settings, as the function would report them; empty when they are valid. */
export function findSettingProblems(raw: RawSettings): readonly SettingProblem[] {
  try {
    parseSettings(raw);
    return [];
  } catch (error) {
    if (error instanceof InvalidSettingsError) return error.problems;
    throw error;
  }
}

/** `config validate`. */
export async function validateConfig(
  context: CommandContext,
  options: { readonly json?: boolean },
): Promise<number> {
  const { raw, settingsPath } = await readRaw(context);
  const problems = findSettingProblems(raw);
  if (options.json === true) {
    printJson(context.io, { settingsPath, valid: problems.length === 0, problems });
  } else if (problems.length === 0) {
    printLines(context.io, `The settings under ${settingsPath} are valid.`);
  } else {
    printLines(
      context.io,
      `The settings under ${settingsPath} have ${problems.length} problem(s):`,
      ...problems.map((problem) => `  ${problem.parameter}: ${problem.message}`),
    );
  }
  return problems.length === 0 ? EXIT_OK : EXIT_FAILED;
}

function findDefinition(name: string): SettingDefinition {
  const definition = SETTING_DEFINITIONS.find((candidate) => candidate.name === name);
  if (definition === undefined) {
    const names = SETTING_DEFINITIONS.map((candidate) => candidate.name).join(', ');
    throw new CliUsageError(`unknown setting "${name}"; the settings are ${names}`);
  }
  return definition;
}

/** The storage of a setting: a String, or a SecureString under the deployment's key (or `--kms-key-id`). */
export function storageFor(
  definition: SettingDefinition,
  kmsKeyId: string | undefined,
  deploymentKey: string | undefined,
): ParameterStorage {
  if (!definition.secret) return { secure: false };
  const keyId = kmsKeyId ?? deploymentKey;
  if (keyId === undefined) {
    throw new CommandFailedError(
      `${definition.name} is a SecureString, and the deployment reports no SettingsKmsKeyId: pass --kms-key-id`,
    );
  }
  return { secure: true, kmsKeyId: keyId };
}

/**
 * The form a valid value is stored in: an enum's own spelling (enum values are case-insensitive and trimmed, so
 * `" FINAL "` is `final`, and stored so that `config show` and the admin read what the function reads); any other
 * value exactly as given (paths keep their case, secrets are used exactly as stored).
 */
export function normaliseForStorage(definition: SettingDefinition, value: string): string {
  if (definition.allowed === undefined) return value;
  const canonical = value.trim().toLowerCase();
  return definition.allowed.find((allowed) => allowed === canonical) ?? value;
}

/** `config set NAME VALUE`. */
export async function setConfig(
  context: CommandContext,
  name: string,
  givenValue: string,
  options: { readonly kmsKeyId?: string },
): Promise<number> {
  const definition = findDefinition(name);
  const value = definition.secret && givenValue === '-' ? await readSecretLine(context.io, name) : givenValue;
  if (definition.secret) context.io.addSecret(value);
  const problem = validateSetting(name, value);
  if (problem !== null) throw new CommandFailedError(`${problem.message} Nothing was written.`);
  const stored = normaliseForStorage(definition, value);
  const deployment = await context.deployment();
  const storage = storageFor(definition, options.kmsKeyId, deployment.outputs.settingsKmsKeyId);
  const clients = await context.clients();
  await putSetting(clients.ssm, deployment.outputs.settingsPath, name, stored, storage);
  const where = normaliseSettingsPath(deployment.outputs.settingsPath);
  const given = stored === value ? '' : ` (given as ${JSON.stringify(value)})`;
  // A setting may be the fix of what opened the breaker: the flow starts at once (and if not, it opens again).
  const released = await releaseBreakerAfterFix(deployment, clients, 'cli config set');
  printLines(
    context.io,
    storage.secure
      ? `Set ${name} under ${where} (SecureString, KMS key ${storage.kmsKeyId}).`
      : `Set ${name} = ${JSON.stringify(stored)} under ${where}${given}.`,
    ...(released === undefined ? [] : [released]),
  );
  return EXIT_OK;
}

/** `config unset NAME`. */
export async function unsetConfig(context: CommandContext, name: string): Promise<number> {
  const definition = findDefinition(name);
  const deployment = await context.deployment();
  const clients = await context.clients();
  const existed = await deleteSetting(clients.ssm, deployment.outputs.settingsPath, name);
  const released = await releaseBreakerAfterFix(deployment, clients, 'cli config unset');
  const fallback =
    definition.default === undefined
      ? 'it is now not set'
      : `the default ${JSON.stringify(definition.default)} applies`;
  printLines(
    context.io,
    existed ? `Removed ${name}: ${fallback}.` : `${name} was not set: ${fallback}.`,
    ...(released === undefined ? [] : [released]),
  );
  return EXIT_OK;
}
