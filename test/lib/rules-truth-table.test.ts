import { describe, expect, test } from 'vitest';
import { decideExport } from '../../lib/index.ts';

// Every expectation below is written out by hand from DESIGN.md's rules table and folder rules; none is computed
// with the code under test.

type Type = 'print' | 'digital-ad' | 'digital-media' | 'service';
type Setting = 'non-final' | 'final' | 'all';

interface StatusCase {
  readonly label: string;
  /** The metadata value, or undefined for no `file-status` at all. */
  readonly value: string | undefined;
}

const STATUSES: readonly StatusCase[] = [
  { label: 'final', value: 'final' },
  { label: 'ready-to-deliver', value: 'ready-to-deliver' },
  { label: 'non-final', value: 'non-final' },
  { label: 'absent', value: undefined },
  { label: 'mixed-case Final', value: ' Final ' },
  { label: 'mixed-case READY-TO-DELIVER', value: 'READY-TO-DELIVER' },
  { label: 'mixed-case Non-Final', value: 'Non-Final' },
  { label: 'unknown approved', value: 'approved' },
];

/** Is the file final? By hand: print/digital-ad need `final`, digital-media needs `ready-to-deliver`. */
const FINAL: Readonly<Record<Type, Readonly<Record<string, boolean>>>> = {
  print: {
    final: true,
    'ready-to-deliver': false,
    'non-final': false,
    absent: false,
    'mixed-case Final': true,
    'mixed-case READY-TO-DELIVER': false,
    'mixed-case Non-Final': false,
    'unknown approved': false,
  },
  'digital-ad': {
    final: true,
    'ready-to-deliver': false,
    'non-final': false,
    absent: false,
    'mixed-case Final': true,
    'mixed-case READY-TO-DELIVER': false,
    'mixed-case Non-Final': false,
    'unknown approved': false,
  },
  'digital-media': {
    final: false,
    'ready-to-deliver': true,
    'non-final': false,
    absent: false,
    'mixed-case Final': false,
    'mixed-case READY-TO-DELIVER': true,
    'mixed-case Non-Final': false,
    'unknown approved': false,
  },
  service: {
    final: false,
    'ready-to-deliver': false,
    'non-final': false,
    absent: false,
    'mixed-case Final': false,
    'mixed-case READY-TO-DELIVER': false,
    'mixed-case Non-Final': false,
    'unknown approved': false,
  },
};

/** DESIGN.md's rules table: the reason code by setting and by final / not final / service. */
const RULES_TABLE: Readonly<Record<Setting, { final: string; notFinal: string; service: string }>> = {
  'non-final': { final: 'final-excluded', notFinal: 'non-final-file', service: 'service-ticket' },
  final: { final: 'final-file', notFinal: 'non-final-excluded', service: 'service-ticket' },
  all: { final: 'final-file', notFinal: 'non-final-file', service: 'service-ticket' },
};
const EXPORTING_CODES = new Set(['final-file', 'non-final-file', 'service-ticket']);

/** Where an exported file goes, by hand, for the metadata below. */
const PATHS: Readonly<Record<Type, { single: string; aliases: string }>> = {
  print: { single: '/Ticket Files/Proof 1.pdf', aliases: '/Ticket Files/Gazette/2026-12/Proof 1.pdf' },
  'digital-ad': { single: '/Ticket Files/Proof 1.pdf', aliases: '/Ticket Files/Gazette/2026-12/Proof 1.pdf' },
  'digital-media': { single: '/Ticket Files/Proof 1.pdf', aliases: '/Ticket Files/Newsletter/Proof 1.pdf' },
  service: { single: '/Ticket Files/Proof 1.pdf', aliases: '/Ticket Files/Proof 1.pdf' },
};
const USES_ALIASES: Readonly<Record<Type, boolean>> = {
  print: true,
  'digital-ad': true,
  'digital-media': true,
  service: false,
};

interface Case {
  readonly name: string;
  readonly type: Type;
  readonly setting: Setting;
  readonly status: StatusCase;
  readonly singleFolder: boolean;
  readonly withAliases: boolean;
}

const TYPES: readonly Type[] = ['print', 'digital-ad', 'digital-media', 'service'];
const SETTINGS: readonly Setting[] = ['non-final', 'final', 'all'];
const cases: Case[] = [];
for (const setting of SETTINGS) {
  for (const type of TYPES) {
    for (const status of STATUSES) {
      for (const singleFolder of [true, false]) {
        for (const withAliases of [true, false]) {
          cases.push({
            name: `export-by-status ${setting}, ${type} ticket, file-status ${status.label}, single folder ${singleFolder ? 'yes' : 'no'}, ${withAliases ? 'with' : 'without'} aliases`,
            type,
            setting,
            status,
            singleFolder,
            withAliases,
          });
        }
      }
    }
  }
}

function expectedCode(testCase: Case): string {
  const row = RULES_TABLE[testCase.setting];
  if (testCase.type === 'service') return row.service;
  return FINAL[testCase.type][testCase.status.label] ? row.final : row.notFinal;
}

function expectedWarnings(testCase: Case, exported: boolean): string[] {
  const warnings: string[] = [];
  if (testCase.status.label === 'unknown approved') warnings.push('unknown-file-status');
  if (exported && !testCase.singleFolder && !testCase.withAliases && USES_ALIASES[testCase.type]) {
    warnings.push('alias-missing');
  }
  return warnings;
}

function expectedPath(testCase: Case): string {
  const paths = PATHS[testCase.type];
  return testCase.singleFolder || !testCase.withAliases ? paths.single : paths.aliases;
}

describe('the complete rules truth table', () => {
  test('covers 3 settings x 4 types x 8 statuses x 2 folder modes x 2 alias cases', () => {
    expect(cases).toHaveLength(3 * 4 * 8 * 2 * 2);
  });

  test.each(cases)('$name', (testCase) => {
    // Prepare
    const metadata: Record<string, string> = { 'ticket-type': testCase.type, 'ticket-id': '1234' };
    if (testCase.status.value !== undefined) metadata['file-status'] = testCase.status.value;
    if (testCase.withAliases) {
      metadata['publication-alias'] = 'Gazette';
      metadata['issue-alias'] = '2026-12';
      metadata['product-alias'] = 'Newsletter';
    }
    const settings = {
      'export-by-status': testCase.setting,
      'export-to-single-folder': testCase.singleFolder ? 'yes' : 'no',
    };

    // Act
    const decision = decideExport({ key: 'tickets/1234/Proof 1.pdf', metadata }, settings);

    // Assess
    const code = expectedCode(testCase);
    const exported = EXPORTING_CODES.has(code);
    expect(decision.reason.code).toBe(code);
    expect(decision.export).toBe(exported);
    expect(decision.dropboxPath).toBe(exported ? expectedPath(testCase) : null);
    expect(decision.warnings.map((warning) => warning.code)).toEqual(expectedWarnings(testCase, exported));
    expect(decision.reason.message).toContain(testCase.setting);
  });
});

describe('rule decisions outside the table', () => {
  test('skips an object without ticket-type as not a ticket file, whatever the settings', () => {
    // Prepare
    const object = { key: 'tickets/readme.txt', metadata: { 'file-status': 'final' } };

    // Act
    const decisions = SETTINGS.map((setting) => decideExport(object, { 'export-by-status': setting }));

    // Assess
    for (const decision of decisions) {
      expect(decision).toMatchObject({
        export: false,
        dropboxPath: null,
        reason: { code: 'not-a-ticket-file' },
      });
      expect(decision.file).toBeUndefined();
    }
  });

  test('skips an unknown ticket type with its own reason naming the value', () => {
    // Act
    const decision = decideExport({ key: 'tickets/a.pdf', metadata: { 'ticket-type': 'billboard' } }, {});

    // Assess
    expect(decision.export).toBe(false);
    expect(decision.reason.code).toBe('unknown-ticket-type');
    expect(decision.reason.message).toContain('"billboard"');
  });

  test('uses the defaults (non-final, single folder, /Ticket Files) when no setting is stored', () => {
    // Act
    const exported = decideExport({ key: 'tickets/1/a.pdf', metadata: { 'ticket-type': 'print' } }, {});
    const skipped = decideExport(
      { key: 'tickets/1/a.pdf', metadata: { 'ticket-type': 'print', 'file-status': 'final' } },
      {},
    );

    // Assess
    expect(exported).toMatchObject({ export: true, dropboxPath: '/Ticket Files/a.pdf' });
    expect(skipped).toMatchObject({ export: false, reason: { code: 'final-excluded' } });
  });

  test('ignores credential entries, even invalid ones, when deciding', () => {
    // Act
    const decision = decideExport(
      { key: 'tickets/1/a.pdf', metadata: { 'ticket-type': 'service' } },
      { 'dropbox/refresh-token': 'only-a-token', 'dropbox/path-root': 'nowhere' },
    );

    // Assess
    expect(decision.export).toBe(true);
  });

  test('throws InvalidSettingsError when a rule setting is invalid', () => {
    // Act
    const decide = () =>
      decideExport(
        { key: 'tickets/1/a.pdf', metadata: { 'ticket-type': 'print' } },
        { 'export-by-status': 'some' },
      );

    // Assess
    expect(decide).toThrowError(/export-by-status must be one of non-final, final, all/);
  });

  test('lets the file-status tag override the metadata, so a later final tag re-decides the file', () => {
    // Prepare
    const object = {
      key: 'tickets/1/a.pdf',
      metadata: { 'ticket-type': 'print', 'file-status': 'non-final' },
      tags: { 'file-status': 'final' },
    };

    // Act
    const underFinal = decideExport(object, { 'export-by-status': 'final' });
    const underNonFinal = decideExport(object, { 'export-by-status': 'non-final' });

    // Assess
    expect(underFinal.reason.code).toBe('final-file');
    expect(underNonFinal.reason.code).toBe('final-excluded');
  });

  test('explains that final is not digital media final mark in the reason message', () => {
    // Act
    const decision = decideExport(
      { key: 'tickets/1/a.pdf', metadata: { 'ticket-type': 'digital-media', 'file-status': 'final' } },
      { 'export-by-status': 'final' },
    );

    // Assess
    expect(decision.reason.code).toBe('non-final-excluded');
    expect(decision.reason.message).toContain('ready-to-deliver');
  });
});
