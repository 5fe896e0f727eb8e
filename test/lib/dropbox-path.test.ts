import { describe, expect, test } from 'vitest';
import {
  buildDropboxPath,
  decideExport,
  normaliseBaseFolder,
  REFUSED_NAMES,
  type RuleSettings,
  sanitiseComponent,
  type TicketFile,
} from '../../lib/index.ts';

const RULES: RuleSettings = {
  exportByStatus: 'all',
  exportToSingleFolder: false,
  baseFolder: '/Ticket Files',
  fileNameTemplate: '{fileName}',
  onConflict: 'rename',
};

function printFile(overrides: Partial<TicketFile> = {}): TicketFile {
  return {
    ticketType: 'print',
    ticketId: '1234',
    publicationAlias: 'Gazette',
    issueAlias: '2026-12',
    fileStatus: 'final',
    fileName: 'Proof.pdf',
    ...overrides,
  };
}

/** Asserts what "never escapes the base folder" means, component by component. */
function expectSafePath(path: string, baseFolder: string): void {
  expect(path.startsWith(`${baseFolder}/`)).toBe(true);
  const components = path.slice(baseFolder.length + 1).split('/');
  for (const component of components) {
    expect(component).not.toBe('');
    expect(component).not.toBe('.');
    expect(component).not.toBe('..');
    expect(component).not.toMatch(/[\\\p{Cc}]/u);
    expect(component).not.toMatch(/[\s.]$/u);
    expect(component.length).toBeLessThanOrEqual(255);
    expect(component.isWellFormed()).toBe(true);
    expect(component.normalize('NFC')).toBe(component);
  }
}

function unitsOf(text: string): number {
  return text.length;
}

describe('normaliseBaseFolder', () => {
  test.each([
    ['', ''],
    ['/', ''],
    ['//', ''],
    ['  /  ', ''],
    ['Ticket Files', '/Ticket Files'],
    ['/Ticket Files/', '/Ticket Files'],
    ['//Clients//ACME Corp///Proofs//', '/Clients/ACME Corp/Proofs'],
    ['  /Ticket FILES  ', '/Ticket FILES'],
    ['/Cafe\u0301', '/Caf\u00e9'],
  ])('normalises %j to %j', (input, expected) => {
    // Act
    const result = normaliseBaseFolder(input);

    // Assess
    expect(result).toBe(expected);
  });

  test('puts files of a root base folder directly under /', () => {
    // Act
    const result = buildDropboxPath(printFile(), { ...RULES, baseFolder: '/', exportToSingleFolder: true });

    // Assess
    expect(result).toEqual({ ok: true, path: '/Proof.pdf', warnings: [] });
  });
});

describe('sanitiseComponent', () => {
  test.each([
    ['a slash', 'a/b', 'a_b'],
    ['a backslash', 'a\\b', 'a_b'],
    ['a NUL', 'a\u0000b', 'a_b'],
    ['a tab and a newline', 'a\tb\nc', 'a_b_c'],
    ['DEL and a C1 control', 'a\u007fb\u0085c', 'a_b_c'],
    ['trailing spaces and dots', 'Proof. . .', 'Proof'],
    ['leading spaces, kept', '  Proof', '  Proof'],
    ['NFD, composed to NFC', 'Re\u0301sume\u0301.pdf', 'R\u00e9sum\u00e9.pdf'],
    ['a lone surrogate', 'a\ud800b', 'a\ufffdb'],
    ['a fullwidth solidus, kept as a character', 'a\uff0fb', 'a\uff0fb'],
    ['percent-encoded slashes, kept literally', '..%2F..%2Fetc', '..%2F..%2Fetc'],
  ])('replaces or trims %s', (_label, input, expected) => {
    // Act
    const result = sanitiseComponent(input);

    // Assess
    expect(result).toBe(expected);
  });

  test.each([['.'], ['..'], ['...'], [' '], [' . '], ['']])('returns empty for %j', (input) => {
    // Act
    const result = sanitiseComponent(input);

    // Assess
    expect(result).toBe('');
  });

  test('keeps a name of exactly 255 units unchanged', () => {
    // Prepare
    const name = `${'a'.repeat(251)}.pdf`;

    // Act
    const result = sanitiseComponent(name);

    // Assess
    expect(result).toBe(name);
  });

  test('shortens a long ASCII name to 255 units and keeps its extension', () => {
    // Act
    const result = sanitiseComponent(`${'a'.repeat(300)}.pdf`);

    // Assess
    expect(unitsOf(result)).toBe(255);
    expect(result).toBe(`${'a'.repeat(251)}.pdf`);
  });

  test('counts an emoji as 2 units and never splits its surrogate pair', () => {
    // Prepare: 1 + 127 x 2 = 255 units fit; 2 + 127 x 2 = 256 do not.
    const fits = `a${'😀'.repeat(127)}`;
    const tooLong = `ab${'😀'.repeat(127)}`;

    // Act
    const kept = sanitiseComponent(fits);
    const cut = sanitiseComponent(tooLong);

    // Assess
    expect(kept).toBe(fits);
    expect(cut).toBe(`ab${'😀'.repeat(126)}`);
    expect(unitsOf(cut)).toBe(254);
    expect(cut.isWellFormed()).toBe(true);
  });

  test('shortens an emoji name with an extension to at most 255 units, well formed, extension kept', () => {
    // Act
    const result = sanitiseComponent(`${'🎉'.repeat(200)}.pdf`);

    // Assess
    expect(unitsOf(result)).toBeLessThanOrEqual(255);
    expect(result.endsWith('.pdf')).toBe(true);
    expect(result).toBe(`${'🎉'.repeat(125)}.pdf`);
    expect(result.isWellFormed()).toBe(true);
  });

  test('counts CJK characters as 1 unit each', () => {
    // Act
    const result = sanitiseComponent('日'.repeat(300));

    // Assess
    expect(result).toBe('日'.repeat(255));
  });

  test('does not split a ZWJ emoji sequence when shortening', () => {
    // Prepare: the family emoji is one grapheme of 8 units.
    const family = '👨‍👩‍👧';

    // Act
    const result = sanitiseComponent(family.repeat(40));

    // Assess
    expect(unitsOf(family)).toBe(8);
    expect(result).toBe(family.repeat(31));
  });

  test('trims the trailing spaces a shortening leaves at the end', () => {
    // Act
    const result = sanitiseComponent(`${'a'.repeat(250)}      ${'b'.repeat(20)}`);

    // Assess
    expect(result).toBe('a'.repeat(250));
  });
});

describe('refused names', () => {
  test('lists the six names Dropbox refuses, in lower case', () => {
    // Assess
    expect([...REFUSED_NAMES].sort()).toEqual(
      ['.dropbox', '.dropbox.attr', '.ds_store', 'desktop.ini', 'icon\r', 'thumbs.db'].sort(),
    );
  });

  test.each([
    ['desktop.ini'],
    ['DESKTOP.INI'],
    ['Thumbs.db'],
    ['.DS_Store'],
    ['Icon\r'],
    ['ICON\r'],
    ['.Dropbox'],
    ['.dropbox.ATTR'],
    ['desktop.ini.'],
    ['thumbs.db  '],
  ])('skips the file named %j with refused-name', (fileName) => {
    // Act
    const decision = decideExport(
      { key: `tickets/1/${fileName}`, metadata: { 'ticket-type': 'service' } },
      { 'export-by-status': 'all' },
    );

    // Assess
    expect(decision).toMatchObject({ export: false, dropboxPath: null, reason: { code: 'refused-name' } });
  });

  test.each([['desktop.ini.pdf'], ['Icon'], ['my.dropbox'], ['thumbs.db.bak']])(
    'exports %j, which only resembles a refused name',
    (fileName) => {
      // Act
      const decision = decideExport(
        { key: 'tickets/1/x', metadata: { 'ticket-type': 'service', 'file-name': fileName } },
        {},
      );

      // Assess
      expect(decision).toMatchObject({ export: true, dropboxPath: `/Ticket Files/${fileName}` });
    },
  );

  test('skips a refused name that comes from the template', () => {
    // Act
    const result = buildDropboxPath(printFile({ ticketId: 'Thumbs.DB' }), {
      ...RULES,
      fileNameTemplate: '{ticketId}',
    });

    // Assess
    expect(result).toMatchObject({ ok: false, reason: { code: 'refused-name' } });
  });

  test('sends a file whose alias is a refused name to the base folder with alias-missing', () => {
    // Act
    const result = buildDropboxPath(printFile({ issueAlias: '.DS_Store' }), RULES);

    // Assess
    expect(result).toMatchObject({ ok: true, path: '/Ticket Files/Proof.pdf' });
    expect(result.ok && result.warnings.map((warning) => warning.code)).toEqual(['alias-missing']);
  });
});

describe('path traversal from untrusted metadata', () => {
  const ATTACKS = [
    '..',
    '.',
    '../..',
    '../../etc/passwd',
    '..\\..\\Windows',
    '/absolute',
    '//double',
    '%2E%2E%2F%2E%2E',
    '..%2F..%2Fescape',
    '..%5C..',
    ' .. ',
    '.. ',
    '..\u0000',
    '\u0000',
    'line\nbreak',
    '.\u0301.',
    'Cafe\u0301',
    '\u2024\u2024',
    '\uff0e\uff0e\uff0f',
    '\ud800',
    `${'..'.repeat(200)}/x`,
  ];

  test.each(ATTACKS)('keeps the path inside the base folder when aliases are %j', (attack) => {
    // Act
    const result = buildDropboxPath(printFile({ publicationAlias: attack, issueAlias: attack }), RULES);

    // Assess
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expectSafePath(result.path, '/Ticket Files');
    expect(result.path.endsWith('/Proof.pdf')).toBe(true);
  });

  test.each(ATTACKS)(
    'keeps the path inside the base folder, or skips, when the file name is %j',
    (attack) => {
      // Act
      const result = buildDropboxPath(printFile({ fileName: attack }), {
        ...RULES,
        exportToSingleFolder: true,
      });

      // Assess
      if (result.ok) expectSafePath(result.path, '/Ticket Files');
      else expect(result.reason.code).toBe('invalid-name');
    },
  );

  test.each(ATTACKS)('keeps the path inside the base folder when a template renders %j', (attack) => {
    // Act
    const result = buildDropboxPath(printFile({ ticketId: attack }), {
      ...RULES,
      fileNameTemplate: '{ticketId}',
    });

    // Assess
    expect(result.ok).toBe(true);
    if (result.ok) expectSafePath(result.path, '/Ticket Files/Gazette/2026-12');
  });

  test('turns slashes of a traversal file name into underscores inside one component', () => {
    // Act
    const decision = decideExport(
      { key: 'tickets/1/x.pdf', metadata: { 'ticket-type': 'service', 'file-name': '../../../etc/passwd' } },
      {},
    );

    // Assess
    expect(decision.dropboxPath).toBe('/Ticket Files/.._.._.._etc_passwd');
  });

  test('skips with invalid-name a file whose name leaves nothing once sanitised', () => {
    // Act
    const decision = decideExport({ key: 'tickets/1/..', metadata: { 'ticket-type': 'service' } }, {});

    // Assess
    expect(decision).toMatchObject({ export: false, reason: { code: 'invalid-name' }, dropboxPath: null });
  });

  test('keeps a hand-made unsafe base folder from escaping', () => {
    // Act
    const result = buildDropboxPath(printFile(), {
      ...RULES,
      baseFolder: '/A/../..\\B/./C',
      exportToSingleFolder: true,
    });

    // Assess
    expect(result).toEqual({ ok: true, path: '/A/.._B/C/Proof.pdf', warnings: [] });
  });

  test('stores NFD names from metadata in NFC', () => {
    // Act
    const decision = decideExport(
      {
        key: 'tickets/1/x.pdf',
        metadata: {
          'ticket-type': 'digital-media',
          'product-alias': 'Cafe\u0301',
          'file-name': 'Ame\u0301lie.pdf',
        },
      },
      { 'export-to-single-folder': 'no' },
    );

    // Assess
    expect(decision.dropboxPath).toBe('/Ticket Files/Caf\u00e9/Am\u00e9lie.pdf');
  });
});

describe('alias folders', () => {
  test.each([
    [
      'print',
      { publicationAlias: 'Gazette', issueAlias: '2026-12' },
      '/Ticket Files/Gazette/2026-12/Proof.pdf',
    ],
    [
      'digital-ad',
      { publicationAlias: 'Site', issueAlias: 'Week 48' },
      '/Ticket Files/Site/Week 48/Proof.pdf',
    ],
    ['digital-media', { productAlias: 'Podcast' }, '/Ticket Files/Podcast/Proof.pdf'],
    ['service', { publicationAlias: 'Gazette', issueAlias: '2026-12' }, '/Ticket Files/Proof.pdf'],
  ] as const)('puts a %s file in its alias folders', (ticketType, aliases, expected) => {
    // Act
    const result = buildDropboxPath(
      { ticketType, fileStatus: 'non-final', fileName: 'Proof.pdf', ...aliases },
      RULES,
    );

    // Assess
    expect(result).toEqual({ ok: true, path: expected, warnings: [] });
  });

  test('ignores the product alias of a print file and the publication alias of a digital-media file', () => {
    // Act
    const print = buildDropboxPath(printFile({ productAlias: 'Podcast' }), RULES);
    const media = buildDropboxPath(
      { ticketType: 'digital-media', fileStatus: 'final', fileName: 'a.mp3', publicationAlias: 'Gazette' },
      RULES,
    );

    // Assess
    expect(print).toMatchObject({ ok: true, path: '/Ticket Files/Gazette/2026-12/Proof.pdf' });
    expect(media).toMatchObject({ ok: true, path: '/Ticket Files/a.mp3' });
    expect(media.ok && media.warnings[0]?.code).toBe('alias-missing');
  });

  test('falls back to the base folder when only one of the two print aliases is present', () => {
    // Act
    const result = buildDropboxPath(printFile({ issueAlias: undefined }), RULES);

    // Assess
    expect(result).toMatchObject({ ok: true, path: '/Ticket Files/Proof.pdf' });
    expect(result.ok && result.warnings[0]?.message).toContain('issue-alias');
  });

  test('shortens an alias longer than 255 units to one safe folder', () => {
    // Act
    const result = buildDropboxPath(printFile({ publicationAlias: 'é'.repeat(300) }), RULES);

    // Assess
    expect(result).toMatchObject({ ok: true, path: `/Ticket Files/${'é'.repeat(255)}/2026-12/Proof.pdf` });
  });
});

describe('file-name-template', () => {
  const file = printFile({ fileName: 'Proof.pdf', ticketId: '1234' });

  test.each([
    ['{fileName}', 'Proof.pdf'],
    ['{ticketId} - {fileName}', '1234 - Proof.pdf'],
    ['{ticketType}_{publicationAlias}_{issueAlias}_{fileName}', 'print_Gazette_2026-12_Proof.pdf'],
    ['{ticketId}{ticketId}', '12341234'],
    ['proof-{ticketId}.pdf', 'proof-1234.pdf'],
    ['{productAlias}{fileName}', 'Proof.pdf'],
    ['{productAlias} - {fileName}', ' - Proof.pdf'],
    ['{publicationAlias}/{issueAlias}/{fileName}', 'Gazette_2026-12_Proof.pdf'],
  ])('renders %j as %j in a single folder', (template, name) => {
    // Act
    const result = buildDropboxPath(file, {
      ...RULES,
      exportToSingleFolder: true,
      fileNameTemplate: template,
    });

    // Assess
    expect(result).toEqual({ ok: true, path: `/Ticket Files/${name}`, warnings: [] });
  });

  test('falls back to the original file name when the template renders empty', () => {
    // Act
    const result = buildDropboxPath(printFile({ ticketId: undefined }), {
      ...RULES,
      exportToSingleFolder: true,
      fileNameTemplate: '{ticketId}',
    });

    // Assess
    expect(result).toEqual({ ok: true, path: '/Ticket Files/Proof.pdf', warnings: [] });
  });

  test('falls back to the original file name when the template renders only dots and spaces', () => {
    // Act
    const result = buildDropboxPath(printFile({ ticketId: ' ..' }), {
      ...RULES,
      exportToSingleFolder: true,
      fileNameTemplate: '{ticketId}.',
    });

    // Assess
    expect(result).toMatchObject({ ok: true, path: '/Ticket Files/Proof.pdf' });
  });

  test('renders an alias holding slashes as part of one component, never a folder', () => {
    // Act
    const decision = decideExport(
      {
        key: 'tickets/1/Proof.pdf',
        metadata: { 'ticket-type': 'print', 'ticket-id': '../../12/34', 'publication-alias': 'a/b' },
      },
      { 'file-name-template': '{ticketId}-{publicationAlias}-{fileName}' },
    );

    // Assess
    expect(decision.dropboxPath).toBe('/Ticket Files/.._.._12_34-a_b-Proof.pdf');
  });

  test('rejects an unknown token as a settings problem naming it', () => {
    // Act
    const decide = () =>
      decideExport(
        { key: 'tickets/1/Proof.pdf', metadata: { 'ticket-type': 'print' } },
        { 'file-name-template': '{ticketId}-{customer}' },
      );

    // Assess
    expect(decide).toThrowError(/\{customer\}/);
  });
});
