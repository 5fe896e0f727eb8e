import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import { decodeRfc2047, encodeRfc2047, readTicketFile } from '../../lib/index.ts';

function base64Word(text: string): string {
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

describe('readTicketFile', () => {
  test.each([
    ['lower-case without prefix (as the SDK returns it)', 'ticket-type'],
    ['with the x-amz-meta- prefix', 'x-amz-meta-ticket-type'],
    ['with the prefix in any case', 'X-Amz-Meta-Ticket-Type'],
    ['in upper case without prefix', 'TICKET-TYPE'],
  ])('reads a metadata key %s', (_label, key) => {
    // Act
    const result = readTicketFile({ key: 'tickets/1/a.pdf', metadata: { [key]: 'Print' } });

    // Assess
    expect(result).toMatchObject({ ok: true, file: { ticketType: 'print' } });
  });

  test('prefers the SDK form of a key when another spelling of it is also present', () => {
    // Act
    const result = readTicketFile({
      key: 'tickets/1/a.pdf',
      metadata: { 'X-Amz-Meta-Ticket-Type': 'service', 'ticket-type': 'print', 'Ticket-Type': 'digital-ad' },
    });

    // Assess
    expect(result).toMatchObject({ ok: true, file: { ticketType: 'print' } });
  });

  test.each([
    ['no metadata', undefined],
    ['no ticket-type', { 'ticket-id': '12' }],
    ['an empty ticket-type', { 'ticket-type': '' }],
    ['a blank ticket-type', { 'ticket-type': '   ' }],
  ])('says not a ticket file when the object has %s', (_label, metadata) => {
    // Act
    const result = readTicketFile({ key: 'tickets/a.pdf', metadata });

    // Assess
    expect(result).toMatchObject({ ok: false, reason: { code: 'not-a-ticket-file' } });
  });

  test('says unknown ticket type, quoting the value safely, when the type is not one of the four', () => {
    // Act
    const result = readTicketFile({ key: 'tickets/a.pdf', metadata: { 'ticket-type': 'radio\nspot' } });

    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason.code).toBe('unknown-ticket-type');
    expect(result.reason.message).toContain('"radio\\nspot"');
    expect(result.reason.message).not.toContain('\n');
  });

  test('reads every field of the upload contract, trimmed, and the type and status case-insensitively', () => {
    // Act
    const result = readTicketFile({
      key: 'tickets/1234/upload-77.pdf',
      metadata: {
        'ticket-type': ' Digital-Ad ',
        'ticket-id': ' 1234 ',
        'publication-alias': ' Gazette ',
        'issue-alias': '2026-12',
        'product-alias': 'Newsletter',
        'file-status': 'FINAL',
        'file-name': 'Proof v2.pdf',
      },
    });

    // Assess
    expect(result).toEqual({
      ok: true,
      file: {
        ticketType: 'digital-ad',
        ticketId: '1234',
        publicationAlias: 'Gazette',
        issueAlias: '2026-12',
        productAlias: 'Newsletter',
        fileStatus: 'final',
        fileStatusSource: 'metadata',
        fileName: 'Proof v2.pdf',
      },
      warnings: [],
    });
  });

  test('takes the file name from the last key segment when file-name is absent or blank', () => {
    // Act
    const absent = readTicketFile({ key: 'tickets/1234/Proof 1.pdf', metadata: { 'ticket-type': 'print' } });
    const blank = readTicketFile({
      key: 'Proof 2.pdf',
      metadata: { 'ticket-type': 'print', 'file-name': ' ' },
    });

    // Assess
    expect(absent).toMatchObject({ ok: true, file: { fileName: 'Proof 1.pdf' } });
    expect(blank).toMatchObject({ ok: true, file: { fileName: 'Proof 2.pdf' } });
  });

  test('treats an absent status as non-final without a warning', () => {
    // Act
    const result = readTicketFile({ key: 'tickets/a.pdf', metadata: { 'ticket-type': 'print' } });

    // Assess
    expect(result).toMatchObject({
      ok: true,
      file: { fileStatus: 'non-final', fileStatusSource: 'default' },
      warnings: [],
    });
  });

  test('treats an unknown status as non-final with an unknown-file-status warning', () => {
    // Act
    const result = readTicketFile({
      key: 'tickets/a.pdf',
      metadata: { 'ticket-type': 'print', 'file-status': 'done' },
    });

    // Assess
    expect(result).toMatchObject({ ok: true, file: { fileStatus: 'non-final' } });
    expect(result.ok && result.warnings.map((warning) => warning.code)).toEqual(['unknown-file-status']);
  });

  test('accepts the seed spelling "Ready to deliver" for ready-to-deliver', () => {
    // Act
    const result = readTicketFile({
      key: 'tickets/a.pdf',
      metadata: { 'ticket-type': 'digital-media', 'file-status': 'Ready to deliver' },
    });

    // Assess
    expect(result).toMatchObject({ ok: true, file: { fileStatus: 'ready-to-deliver' }, warnings: [] });
  });

  test('lets the file-status tag override the metadata in both directions', () => {
    // Act
    const madeFinal = readTicketFile({
      key: 'a.pdf',
      metadata: { 'ticket-type': 'print', 'file-status': 'non-final' },
      tags: { 'file-status': 'Final' },
    });
    const madeNonFinal = readTicketFile({
      key: 'a.pdf',
      metadata: { 'ticket-type': 'print', 'file-status': 'final' },
      tags: { 'File-Status': 'non-final' },
    });

    // Assess
    expect(madeFinal).toMatchObject({ ok: true, file: { fileStatus: 'final', fileStatusSource: 'tag' } });
    expect(madeNonFinal).toMatchObject({
      ok: true,
      file: { fileStatus: 'non-final', fileStatusSource: 'tag' },
    });
  });

  test('falls back to the metadata when the file-status tag is empty', () => {
    // Act
    const result = readTicketFile({
      key: 'a.pdf',
      metadata: { 'ticket-type': 'print', 'file-status': 'final' },
      tags: { 'file-status': '' },
    });

    // Assess
    expect(result).toMatchObject({ ok: true, file: { fileStatus: 'final', fileStatusSource: 'metadata' } });
  });

  test('warns about an unknown tag status rather than using the metadata one', () => {
    // Act
    const result = readTicketFile({
      key: 'a.pdf',
      metadata: { 'ticket-type': 'print', 'file-status': 'final' },
      tags: { 'file-status': 'maybe' },
    });

    // Assess
    expect(result).toMatchObject({ ok: true, file: { fileStatus: 'non-final' } });
    expect(result.ok && result.warnings[0]?.message).toContain('object tag');
  });

  test('decodes RFC 2047 metadata values before reading them', () => {
    // Act
    const result = readTicketFile({
      key: 'tickets/1/upload.bin',
      metadata: {
        'ticket-type': '=?UTF-8?Q?print?=',
        'publication-alias': base64Word('Süddeutsche Zeitung'),
        'issue-alias': '=?UTF-8?Q?M=C3=A4rz_2026?=',
        'file-name': base64Word('Épreuve finale 🎉.pdf'),
      },
    });

    // Assess
    expect(result).toMatchObject({
      ok: true,
      file: {
        ticketType: 'print',
        publicationAlias: 'Süddeutsche Zeitung',
        issueAlias: 'März 2026',
        fileName: 'Épreuve finale 🎉.pdf',
      },
    });
  });
});

describe('decodeRfc2047', () => {
  test.each([
    ['a B word', base64Word('Ünïcödé 日本語 🎉'), 'Ünïcödé 日本語 🎉'],
    ['a Q word with _ as space', '=?UTF-8?Q?Caf=C3=A9_cr=C3=A8me?=', 'Café crème'],
    ['a Q word with an encoded underscore', '=?UTF-8?Q?a=5Fb?=', 'a_b'],
    ['lower-case charset and encoding', '=?utf-8?q?=C3=A9t=C3=A9?=', 'été'],
    [
      'adjacent words, joined without the space between',
      '=?UTF-8?Q?Caf=C3=A9?= =?UTF-8?Q?_noir?=',
      'Café noir',
    ],
    [
      'adjacent words folded over a line break',
      `${base64Word('Привет, ')}\r\n ${base64Word('мир')}`,
      'Привет, мир',
    ],
    ['a B and a Q word side by side', `${base64Word('日本')} =?UTF-8?Q?=E8=AA=9E?=`, '日本語'],
    [
      'words with plain text around and between',
      'Proof =?UTF-8?Q?=C3=A9?= v2 =?UTF-8?B?w6k=?=',
      'Proof é v2 é',
    ],
    ['an ISO-8859-1 word', '=?ISO-8859-1?Q?Gr=FC=DFe?=', 'Grüße'],
    ['a charset with an RFC 2231 language', '=?UTF-8*de?Q?Gr=C3=BC=C3=9Fe?=', 'Grüße'],
    ['plain ASCII', 'Proof 1.pdf', 'Proof 1.pdf'],
    ['text with =? that is no word', 'a =? b ?= c', 'a =? b ?= c'],
    ['an unknown encoding letter', '=?UTF-8?X?abc?=', '=?UTF-8?X?abc?='],
    ['a broken Q escape', '=?UTF-8?Q?=ZZ?=', '=?UTF-8?Q?=ZZ?='],
    ['broken base64', '=?UTF-8?B?@@@?=', '=?UTF-8?B?@@@?='],
    ['an unknown charset', '=?X-NOPE?Q?abc?=', '=?X-NOPE?Q?abc?='],
  ])('decodes %s', (_label, encoded, decoded) => {
    // Act
    const result = decodeRfc2047(encoded);

    // Assess
    expect(result).toBe(decoded);
  });

  test('joins a character whose bytes are split across two adjacent B words', () => {
    // Prepare
    const bytes = Buffer.from('🎉', 'utf8');
    const first = `=?UTF-8?B?${bytes.subarray(0, 2).toString('base64')}?=`;
    const second = `=?UTF-8?B?${bytes.subarray(2).toString('base64')}?=`;

    // Act
    const result = decodeRfc2047(`${first} ${second}`);

    // Assess
    expect(result).toBe('🎉');
  });

  test('keeps the whitespace before the first word and after the last one', () => {
    // Act
    const result = decodeRfc2047('  =?UTF-8?Q?a?= =?UTF-8?Q?b?=  ');

    // Assess
    expect(result).toBe('  ab  ');
  });
});

describe('encodeRfc2047', () => {
  test('keeps printable ASCII as it is and encodes anything else so that decodeRfc2047 reads it back', () => {
    // Prepare
    const values = ['DailyNews', 'Région Sud', 'N°42', 'Affiche été 🎨 + plan.tif', 'tab\there'];

    // Act
    const encoded = values.map((value) => encodeRfc2047(value));

    // Assess
    expect(encoded[0]).toBe('DailyNews');
    expect(encoded[1]).toBe('=?UTF-8?B?UsOpZ2lvbiBTdWQ=?=');
    expect(encoded.slice(1).every((value) => /^[\x20-\x7e]*$/.test(value))).toBe(true);
    expect(encoded.map((value) => decodeRfc2047(value))).toEqual(values);
  });
});
