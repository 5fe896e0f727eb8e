import { describe, expect, it } from 'vitest';
import {
  isFileAncestorConflict,
  resolveAliasFolderClash,
  suffixedFolderName,
} from '../../lib/folder-clash.ts';

/** Files (not folders) at these lower-case paths. */
function lookup(files: readonly string[]) {
  const known = new Set(files.map((path) => path.toLowerCase()));
  return {
    calls: [] as string[],
    async getFileMetadata(path: string) {
      this.calls.push(path);
      return known.has(path.toLowerCase()) ? { path } : null;
    },
  };
}

describe('resolveAliasFolderClash', () => {
  it('suffixes each clashing alias folder with the first free number, case-insensitively, and keeps the name', async () => {
    // Prepare
    const dropbox = lookup(['/Base/daily', '/Base/Daily (1)', '/Base/Daily (2)/dec']);

    // Act
    const resolved = await resolveAliasFolderClash(dropbox, '/Base/Daily/Dec/Proof.pdf', '/Base');

    // Assess
    expect(resolved?.path).toBe('/Base/Daily (2)/Dec (1)/Proof.pdf');
    expect(resolved?.warning.code).toBe('alias-folder-clash');
  });

  it('finds nothing to resolve when no folder of the path is a file, or the path has no alias folder', async () => {
    // Act
    const none = await resolveAliasFolderClash(lookup([]), '/Base/Daily/Dec/Proof.pdf', '/Base');
    const flat = await resolveAliasFolderClash(lookup(['/Base/Proof.pdf']), '/Base/Proof.pdf', '/Base');

    // Assess
    expect(none).toBeUndefined();
    expect(flat).toBeUndefined();
  });
});

describe('suffixedFolderName', () => {
  it('keeps a suffixed name within one component’s 255 UTF-16 units, never splitting a character', () => {
    // Act
    const name = suffixedFolderName(`${'a'.repeat(250)}😀😀`, 12);

    // Assess
    expect(name.length).toBeLessThanOrEqual(255);
    expect(name.endsWith(' (12)')).toBe(true);
    expect(name.isWellFormed()).toBe(true);
  });
});

describe('isFileAncestorConflict', () => {
  it('tells a file at an ancestor from other conflicts', () => {
    // Assess
    expect(isFileAncestorConflict({ summaryTags: ['path', 'conflict', 'file_ancestor'] })).toBe(true);
    expect(isFileAncestorConflict({ summaryTags: ['path', 'conflict', 'folder'] })).toBe(false);
    expect(isFileAncestorConflict(new Error('x'))).toBe(false);
  });
});
