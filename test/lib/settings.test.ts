import { describe, expect, test } from 'vitest';
import {
  InvalidSettingsError,
  isSecretSetting,
  parseRuleSettings,
  parseSettings,
  type RawSettings,
  RULE_SETTING_NAMES,
  SETTING_DEFINITIONS,
  type SettingProblem,
  SyncError,
  validateSetting,
} from '../../lib/index.ts';

const REFRESH_TOKEN = 'sl.REFRESH-9f8e7d6c5b4a-secret-value';
const APP_SECRET = 'app-secret-0a1b2c3d4e5f';

function catchError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the action to throw');
}

function problemsOf(
  raw: RawSettings,
  parse: (raw: RawSettings) => unknown = parseSettings,
): SettingProblem[] {
  const error = catchError(() => parse(raw));
  if (!(error instanceof InvalidSettingsError)) throw error;
  return [...error.problems];
}

/** Every text an invalid-settings error can surface in: message, problems, string form, stack, JSON. */
function textsOf(error: unknown): string[] {
  if (!(error instanceof InvalidSettingsError)) throw new Error('expected InvalidSettingsError');
  return [error.message, String(error), error.stack ?? '', JSON.stringify(error.problems)];
}

describe('parseRuleSettings', () => {
  test('applies the documented defaults when nothing is stored', () => {
    // Act
    const rules = parseRuleSettings({});

    // Assess
    expect(rules).toEqual({
      exportByStatus: 'non-final',
      exportToSingleFolder: true,
      baseFolder: '/Ticket Files',
      fileNameTemplate: '{fileName}',
      onConflict: 'rename',
    });
  });

  test('reads enum values case-insensitively and trimmed', () => {
    // Act
    const rules = parseRuleSettings({
      'export-by-status': ' FINAL ',
      'export-to-single-folder': 'No',
      'on-conflict': 'Overwrite\n',
    });

    // Assess
    expect(rules).toMatchObject({
      exportByStatus: 'final',
      exportToSingleFolder: false,
      onConflict: 'overwrite',
    });
  });

  test('keeps the case of the base folder and normalises its slashes', () => {
    // Act
    const rules = parseRuleSettings({ 'base-folder': 'Clients/ACME Proofs/' });

    // Assess
    expect(rules.baseFolder).toBe('/Clients/ACME Proofs');
  });

  test('reads / as the Dropbox root', () => {
    // Act
    const rules = parseRuleSettings({ 'base-folder': '/' });

    // Assess
    expect(rules.baseFolder).toBe('');
  });

  test('keeps a template as written', () => {
    // Act
    const rules = parseRuleSettings({ 'file-name-template': ' {ticketId} - {fileName}' });

    // Assess
    expect(rules.fileNameTemplate).toBe(' {ticketId} - {fileName}');
  });

  test('ignores credential entries, even broken ones, and unknown parameters', () => {
    // Act
    const rules = parseRuleSettings({
      'dropbox/refresh-token': ' broken ',
      'dropbox/path-root': 'mars',
      paused: 'true',
    });

    // Assess
    expect(rules.exportByStatus).toBe('non-final');
  });

  test.each([
    [
      'export-by-status',
      'nonfinal',
      /export-by-status must be one of non-final, final, all \(got "nonfinal"\)/,
    ],
    ['export-by-status', '', /export-by-status must be one of non-final, final, all/],
    ['export-by-status', 'final,all', /one of non-final, final, all/],
    ['export-to-single-folder', 'true', /export-to-single-folder must be one of yes, no \(got "true"\)/],
    ['export-to-single-folder', 'y', /one of yes, no/],
    ['on-conflict', 'replace', /on-conflict must be one of rename, overwrite \(got "replace"\)/],
    ['on-conflict', 'keep both', /one of rename, overwrite/],
    ['base-folder', '/Proofs/../Secrets', /base-folder must not contain "\." or "\.\." folders/],
    ['base-folder', '/Proofs/./2026', /base-folder must not contain "\." or "\.\." folders/],
    ['base-folder', '/Proofs\\2026', /backslash or control character/],
    ['base-folder', '/Proofs\u0007', /backslash or control character/],
    ['base-folder', '/Proofs /2026', /do not end with a space or a dot/],
    ['base-folder', '/Proofs./2026', /do not end with a space or a dot/],
    ['base-folder', '/Proofs/desktop.ini', /folder name Dropbox refuses, "desktop\.ini"/],
    ['base-folder', '/Proofs/.DS_Store', /folder name Dropbox refuses/],
    ['base-folder', `/${'x'.repeat(256)}`, /longer than 255 characters/],
    ['file-name-template', '', /file-name-template must not be empty/],
    ['file-name-template', '   ', /file-name-template must not be empty/],
    [
      'file-name-template',
      '{customer}-{fileName}',
      /unknown token \{customer\}; the known tokens are \{fileName\}/,
    ],
    ['file-name-template', '{filename}', /unknown token \{filename\}/],
    ['file-name-template', '{}{fileName}', /unknown token \{\}/],
    ['file-name-template', '{ ticketId }', /unknown token \{ ticketId \}/],
    ['file-name-template', '{a}{b}{a}', /unknown tokens \{a\}, \{b\};/],
  ])('reports %s = %j as a problem naming it and its allowed values', (parameter, value, message) => {
    // Act
    const problems = problemsOf({ [parameter]: value }, parseRuleSettings);

    // Assess
    expect(problems).toHaveLength(1);
    expect(problems[0]?.parameter).toBe(parameter);
    expect(problems[0]?.message).toMatch(message);
  });

  test.each(RULE_SETTING_NAMES.map((name) => [name]))('reports a non-string %s as a problem', (parameter) => {
    // Act
    const problems = problemsOf({ [parameter]: 42 } as unknown as RawSettings, parseRuleSettings);

    // Assess
    expect(problems).toEqual([
      { parameter, message: expect.stringContaining(`${parameter} must be a string`) },
    ]);
  });

  test('lists every bad parameter at once in one InvalidSettingsError', () => {
    // Act
    const error = catchError(() =>
      parseRuleSettings({
        'export-by-status': 'x',
        'export-to-single-folder': 'x',
        'base-folder': '/a/..',
        'file-name-template': '{x}',
        'on-conflict': 'x',
      }),
    );

    // Assess
    expect(error).toBeInstanceOf(InvalidSettingsError);
    expect(error).toBeInstanceOf(SyncError);
    expect(error).toMatchObject({ kind: 'account', code: 'invalid-settings' });
    if (!(error instanceof InvalidSettingsError)) return;
    expect(error.problems.map((problem) => problem.parameter)).toEqual([
      'export-by-status',
      'export-to-single-folder',
      'base-folder',
      'file-name-template',
      'on-conflict',
    ]);
    for (const parameter of RULE_SETTING_NAMES) expect(error.message).toContain(parameter);
  });
});

describe('parseSettings', () => {
  test('leaves dropbox undefined when Dropbox is not connected', () => {
    // Act
    const settings = parseSettings({ 'export-by-status': 'all', 'dropbox/path-root': 'home' });

    // Assess
    expect(settings.dropbox).toBeUndefined();
    expect(settings.rules.exportByStatus).toBe('all');
  });

  test('uses the credentials exactly as stored and defaults path-root to auto', () => {
    // Act
    const settings = parseSettings({
      'dropbox/app-key': 'abc123key',
      'dropbox/refresh-token': REFRESH_TOKEN,
    });

    // Assess
    expect(settings.dropbox).toEqual({
      appKey: 'abc123key',
      refreshToken: REFRESH_TOKEN,
      appSecret: undefined,
      pathRoot: 'auto',
    });
  });

  test('reads the optional app secret and path-root case-insensitively', () => {
    // Act
    const settings = parseSettings({
      'dropbox/app-key': 'abc123key',
      'dropbox/refresh-token': REFRESH_TOKEN,
      'dropbox/app-secret': APP_SECRET,
      'dropbox/path-root': ' HOME',
    });

    // Assess
    expect(settings.dropbox).toMatchObject({ appSecret: APP_SECRET, pathRoot: 'home' });
  });

  test.each([
    [
      'an app key without a refresh token',
      { 'dropbox/app-key': 'abc123key' },
      'dropbox/refresh-token',
      /dropbox\/refresh-token is missing while dropbox\/app-key is set/,
    ],
    [
      'a refresh token without an app key',
      { 'dropbox/refresh-token': REFRESH_TOKEN },
      'dropbox/app-key',
      /dropbox\/app-key is missing while dropbox\/refresh-token is set/,
    ],
    [
      'an app secret alone',
      { 'dropbox/app-secret': APP_SECRET },
      'dropbox/app-secret',
      /set without dropbox\/app-key and dropbox\/refresh-token/,
    ],
    [
      'an empty refresh token',
      { 'dropbox/app-key': 'abc123key', 'dropbox/refresh-token': '' },
      'dropbox/refresh-token',
      /dropbox\/refresh-token is set but empty/,
    ],
    [
      'a refresh token with a trailing newline',
      { 'dropbox/app-key': 'abc123key', 'dropbox/refresh-token': `${REFRESH_TOKEN}\n` },
      'dropbox/refresh-token',
      /holds whitespace or control characters/,
    ],
    [
      'an app secret with a space inside',
      {
        'dropbox/app-key': 'k',
        'dropbox/refresh-token': REFRESH_TOKEN,
        'dropbox/app-secret': `${APP_SECRET} x`,
      },
      'dropbox/app-secret',
      /dropbox\/app-secret holds whitespace/,
    ],
    [
      'an unknown path-root',
      { 'dropbox/app-key': 'k', 'dropbox/refresh-token': REFRESH_TOKEN, 'dropbox/path-root': 'team' },
      'dropbox/path-root',
      /dropbox\/path-root must be one of auto, home \(got "team"\)/,
    ],
  ])('reports %s', (_label, raw, parameter, message) => {
    // Act
    const problems = problemsOf(raw);

    // Assess
    expect(problems).toEqual([{ parameter, message: expect.stringMatching(message) }]);
  });

  test('reports rule and credential problems together', () => {
    // Act
    const problems = problemsOf({ 'on-conflict': 'skip', 'dropbox/app-key': 'k' });

    // Assess
    expect(problems.map((problem) => problem.parameter)).toEqual(['on-conflict', 'dropbox/refresh-token']);
  });

  test.each([
    ['a secret with whitespace', { 'dropbox/app-key': 'k', 'dropbox/refresh-token': ` ${REFRESH_TOKEN} ` }],
    [
      'a secret with a control character',
      { 'dropbox/app-key': 'k', 'dropbox/refresh-token': `${REFRESH_TOKEN}\u0000` },
    ],
    [
      'a secret without its app key',
      { 'dropbox/refresh-token': REFRESH_TOKEN, 'dropbox/app-secret': APP_SECRET },
    ],
    ['a non-string secret', { 'dropbox/app-key': 'k', 'dropbox/refresh-token': { token: REFRESH_TOKEN } }],
    [
      'secrets next to every rule problem',
      {
        'export-by-status': 'x',
        'base-folder': '/..',
        'file-name-template': '{y}',
        'dropbox/app-key': 'k',
        'dropbox/refresh-token': `${REFRESH_TOKEN}\t`,
        'dropbox/app-secret': `\n${APP_SECRET}`,
        'dropbox/path-root': 'x',
      },
    ],
  ])('never shows a secret value in the error for %s', (_label, raw) => {
    // Act
    const error = catchError(() => parseSettings(raw as unknown as RawSettings));

    // Assess
    for (const text of textsOf(error)) {
      expect(text).not.toContain(REFRESH_TOKEN);
      expect(text).not.toContain(APP_SECRET);
      expect(text).not.toContain('REFRESH-9f8e');
    }
  });
});

describe('validateSetting', () => {
  test.each([
    ['export-by-status', 'ALL'],
    ['export-to-single-folder', 'no'],
    ['base-folder', '/'],
    ['base-folder', 'Clients/ACME'],
    ['file-name-template', '{ticketId}_{fileName}'],
    ['on-conflict', 'overwrite'],
    ['dropbox/app-key', 'abc123key'],
    ['dropbox/refresh-token', REFRESH_TOKEN],
    ['dropbox/app-secret', APP_SECRET],
    ['dropbox/path-root', 'home'],
  ])('accepts %s = %j', (name, value) => {
    // Act
    const problem = validateSetting(name, value);

    // Assess
    expect(problem).toBeNull();
  });

  test('names the allowed values of a bad enum value', () => {
    // Act
    const problem = validateSetting('export-by-status', 'draft');

    // Assess
    expect(problem).toEqual({
      parameter: 'export-by-status',
      message: 'export-by-status must be one of non-final, final, all (got "draft").',
    });
  });

  test('reports an unknown setting name, listing the known ones', () => {
    // Act
    const problem = validateSetting('export-by-type', 'all');

    // Assess
    expect(problem?.parameter).toBe('export-by-type');
    expect(problem?.message).toContain('is not a setting');
    expect(problem?.message).toContain('export-by-status');
  });

  test('does not treat inherited object properties as setting names', () => {
    // Act
    const problem = validateSetting('constructor', 'x');

    // Assess
    expect(problem?.message).toContain('is not a setting');
  });

  test.each([
    ['dropbox/refresh-token', ` ${REFRESH_TOKEN}`],
    ['dropbox/refresh-token', ''],
    ['dropbox/app-secret', `${APP_SECRET}\r\n`],
  ])('never shows the value of the secret %s in its problem', (name, value) => {
    // Act
    const problem = validateSetting(name, value);

    // Assess
    expect(problem?.parameter).toBe(name);
    expect(problem?.message).not.toContain(REFRESH_TOKEN);
    expect(problem?.message).not.toContain(APP_SECRET);
  });
});

describe('SETTING_DEFINITIONS', () => {
  test('describes the nine parameters of DESIGN.md with their defaults and allowed values', () => {
    // Act
    const summary = SETTING_DEFINITIONS.map(({ name, group, secret, default: defaultValue, allowed }) => ({
      name,
      group,
      secret,
      defaultValue,
      allowed,
    }));

    // Assess
    expect(summary).toEqual([
      {
        name: 'export-by-status',
        group: 'rules',
        secret: false,
        defaultValue: 'non-final',
        allowed: ['non-final', 'final', 'all'],
      },
      {
        name: 'export-to-single-folder',
        group: 'rules',
        secret: false,
        defaultValue: 'yes',
        allowed: ['yes', 'no'],
      },
      {
        name: 'base-folder',
        group: 'rules',
        secret: false,
        defaultValue: '/Ticket Files',
        allowed: undefined,
      },
      {
        name: 'file-name-template',
        group: 'rules',
        secret: false,
        defaultValue: '{fileName}',
        allowed: undefined,
      },
      {
        name: 'on-conflict',
        group: 'rules',
        secret: false,
        defaultValue: 'rename',
        allowed: ['rename', 'overwrite'],
      },
      {
        name: 'dropbox/app-key',
        group: 'dropbox',
        secret: false,
        defaultValue: undefined,
        allowed: undefined,
      },
      {
        name: 'dropbox/refresh-token',
        group: 'dropbox',
        secret: true,
        defaultValue: undefined,
        allowed: undefined,
      },
      {
        name: 'dropbox/app-secret',
        group: 'dropbox',
        secret: true,
        defaultValue: undefined,
        allowed: undefined,
      },
      {
        name: 'dropbox/path-root',
        group: 'dropbox',
        secret: false,
        defaultValue: 'auto',
        allowed: ['auto', 'home'],
      },
    ]);
    for (const definition of SETTING_DEFINITIONS) expect(definition.description).not.toBe('');
  });

  test('names the rule settings apart from the credentials', () => {
    // Assess
    expect(RULE_SETTING_NAMES).toEqual([
      'export-by-status',
      'export-to-single-folder',
      'base-folder',
      'file-name-template',
      'on-conflict',
    ]);
    expect(isSecretSetting('dropbox/refresh-token')).toBe(true);
    expect(isSecretSetting('dropbox/app-key')).toBe(false);
  });
});
