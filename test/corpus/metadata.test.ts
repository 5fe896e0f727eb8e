/**
 * The upload contract's bad and odd inputs, through the whole local stack: metadata keys and values in the wrong
 * case, unknown values, RFC 2047 encoded-words (how S3 returns non-ASCII metadata), names that try to leave the base
 * folder, names Dropbox refuses, and names past Dropbox's 255-unit limit. Each ends as DESIGN.md says: exported at
 * its sanitised path, or skipped with its reason.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';

const b64 = (text: string): string => `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;

interface Case {
  readonly label: string;
  readonly metadata: Record<string, string>;
  readonly tagging?: string;
  readonly settings?: Record<string, string>;
  readonly decision: 'exported' | 'skipped';
  readonly reason: string;
  /** Under `/Meta`. */
  readonly path?: string;
  readonly warnings?: readonly string[];
}

const LONG_STEM = 'Very long proof name '.repeat(15);

const CASES: readonly Case[] = [
  {
    label: 'metadata keys and ticket type in upper case',
    metadata: { 'TICKET-TYPE': 'PRINT', 'Ticket-Id': '77' },
    decision: 'exported',
    reason: 'non-final-file',
    path: '/upper.pdf',
  },
  {
    label: 'a ticket type with a space and odd case',
    metadata: { 'ticket-type': 'Digital Ad' },
    decision: 'exported',
    reason: 'non-final-file',
    path: '/spaced.pdf',
  },
  {
    label: 'a file status in the wrong case under export-by-status final',
    metadata: { 'ticket-type': 'digital-media', 'file-status': 'Ready_To_Deliver' },
    settings: { 'export-by-status': 'final' },
    decision: 'exported',
    reason: 'final-file',
    path: '/status.pdf',
  },
  {
    label: 'a file-status tag in the wrong case overriding the metadata',
    metadata: { 'ticket-type': 'print', 'file-status': 'non-final' },
    tagging: 'File-Status=FINAL',
    decision: 'skipped',
    reason: 'final-excluded',
  },
  {
    label: 'no ticket-type',
    metadata: { 'ticket-id': '1' },
    decision: 'skipped',
    reason: 'not-a-ticket-file',
  },
  {
    label: 'an empty ticket-type',
    metadata: { 'ticket-type': ' ' },
    decision: 'skipped',
    reason: 'not-a-ticket-file',
  },
  {
    label: 'an unknown ticket type',
    metadata: { 'ticket-type': 'poster' },
    decision: 'skipped',
    reason: 'unknown-ticket-type',
  },
  {
    label: 'an unknown file status (treated as non-final, with a warning)',
    metadata: { 'ticket-type': 'print', 'file-status': 'approved' },
    decision: 'exported',
    reason: 'non-final-file',
    path: '/unknown status.pdf',
    warnings: ['unknown-file-status'],
  },
  {
    label: 'an RFC 2047 B-encoded file name',
    metadata: { 'ticket-type': 'service', 'file-name': b64('Épreuve n°2 — 校正.pdf') },
    decision: 'exported',
    reason: 'service-ticket',
    path: '/Épreuve n°2 — 校正.pdf',
  },
  {
    label: 'RFC 2047 Q-encoded aliases split over two encoded-words',
    metadata: {
      'ticket-type': 'print',
      'publication-alias': '=?UTF-8?Q?Le_Monde_=C3?= =?UTF-8?Q?=A9dition?=',
      'issue-alias': '=?utf-8?q?D=C3=A9c?=',
    },
    settings: { 'export-to-single-folder': 'no' },
    decision: 'exported',
    reason: 'non-final-file',
    path: '/Le Monde édition/Déc/q-encoded.pdf',
  },
  {
    label: 'an RFC 2047 encoded ticket type',
    metadata: { 'ticket-type': b64('Service') },
    decision: 'exported',
    reason: 'service-ticket',
    path: '/encoded type.pdf',
  },
  {
    label: 'a broken encoded-word (kept as written)',
    metadata: { 'ticket-type': 'service', 'file-name': '=?UTF-8?X?abc?=.pdf' },
    decision: 'exported',
    reason: 'service-ticket',
    path: '/=?UTF-8?X?abc?=.pdf',
  },
  {
    label: 'a file name that climbs out of the base folder',
    metadata: { 'ticket-type': 'service', 'file-name': '../../../Private/secret.pdf' },
    decision: 'exported',
    reason: 'service-ticket',
    path: '/.._.._.._Private_secret.pdf',
  },
  {
    label: 'aliases that climb out of the base folder',
    metadata: { 'ticket-type': 'print', 'publication-alias': '..', 'issue-alias': '../..' },
    settings: { 'export-to-single-folder': 'no' },
    decision: 'exported',
    reason: 'non-final-file',
    path: '/climbing aliases.pdf',
    warnings: ['alias-missing'],
  },
  {
    label: 'aliases with slashes and backslashes',
    metadata: { 'ticket-type': 'print', 'publication-alias': 'News/Weekly', 'issue-alias': 'C:\\Issue 5' },
    settings: { 'export-to-single-folder': 'no' },
    decision: 'exported',
    reason: 'non-final-file',
    path: '/News_Weekly/C:_Issue 5/slashed aliases.pdf',
  },
  {
    label: 'a file name with control characters (RFC 2047 carries them)',
    metadata: { 'ticket-type': 'service', 'file-name': b64('tab\there\u0007bell.pdf') },
    decision: 'exported',
    reason: 'service-ticket',
    path: '/tab_here_bell.pdf',
  },
  {
    label: 'a name Dropbox refuses (desktop.ini)',
    metadata: { 'ticket-type': 'service', 'file-name': 'Desktop.INI' },
    decision: 'skipped',
    reason: 'refused-name',
  },
  {
    label: 'a name Dropbox refuses (Icon\\r, RFC 2047 encoded)',
    metadata: { 'ticket-type': 'service', 'file-name': b64('Icon\r') },
    decision: 'skipped',
    reason: 'refused-name',
  },
  {
    label: 'a file name of only dots (nothing usable once sanitised)',
    metadata: { 'ticket-type': 'service', 'file-name': '..' },
    decision: 'skipped',
    reason: 'invalid-name',
  },
  {
    label: 'a file name longer than 255 UTF-16 units (shortened, extension kept)',
    metadata: { 'ticket-type': 'service', 'file-name': `${LONG_STEM}.pdf` },
    decision: 'exported',
    reason: 'service-ticket',
    path: `/${LONG_STEM.slice(0, 251).trimEnd()}.pdf`,
  },
];

const KEY_NAMES: Readonly<Record<string, string>> = {
  'metadata keys and ticket type in upper case': 'upper.pdf',
  'a ticket type with a space and odd case': 'spaced.pdf',
  'a file status in the wrong case under export-by-status final': 'status.pdf',
  'an unknown file status (treated as non-final, with a warning)': 'unknown status.pdf',
  'RFC 2047 Q-encoded aliases split over two encoded-words': 'q-encoded.pdf',
  'an RFC 2047 encoded ticket type': 'encoded type.pdf',
  'aliases that climb out of the base folder': 'climbing aliases.pdf',
  'aliases with slashes and backslashes': 'slashed aliases.pdf',
};

describe('ticket metadata', () => {
  let harness: Harness;
  let count = 0;
  beforeAll(async () => {
    harness = await startHarness({ settings: { 'base-folder': '/Meta' } });
  });
  afterAll(async () => {
    await harness?.close();
  });
  beforeEach(async () => {
    await harness.setSetting('export-by-status', undefined);
    await harness.setSetting('export-to-single-folder', undefined);
  });

  it.each(CASES)('ends as DESIGN.md says with $label', async (testCase) => {
    // Prepare
    count += 1;
    for (const [name, value] of Object.entries(testCase.settings ?? {}))
      await harness.setSetting(name, value);
    const key = `tickets/meta/${count}/${KEY_NAMES[testCase.label] ?? 'object.pdf'}`;
    await harness.put(key, `content ${count}`, testCase.metadata, testCase.tagging);

    // Act
    const failed = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    const outcome = harness.outcomes.at(-1);
    expect(outcome).toMatchObject({ key, decision: testCase.decision });
    expect(outcome?.reason.code).toBe(testCase.reason);
    expect(outcome?.warnings.map((warning) => warning.code)).toEqual(testCase.warnings ?? []);
    if (testCase.path !== undefined) {
      expect(outcome?.dropboxPath).toBe(`/Meta${testCase.path}`);
      expect(await harness.dropbox.getFileMetadata(`/Meta${testCase.path}`)).toMatchObject({
        size: `content ${count}`.length,
      });
    }
  });

  it('never writes outside the base folder, whatever the metadata said', async () => {
    // Prepare: everything the cases above exported

    // Act
    const everywhere = await dropboxTree(harness.dropbox, '/');

    // Assess
    const exported = harness.outcomes.filter((outcome) => outcome.decision === 'exported');
    expect(exported.length).toBe(CASES.filter((testCase) => testCase.decision === 'exported').length);
    expect(Object.keys(everywhere).every((path) => path.startsWith('/Meta/'))).toBe(true);
    expect(Object.keys(everywhere)).toHaveLength(exported.length);
  });
});
