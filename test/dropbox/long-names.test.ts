/**
 * Dropbox counts a name's length in UTF-16 units (255 per component); a CJK name that fits Dropbox can be three
 * times longer in UTF-8 bytes than a Linux file name may be. The emulator must still take it.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  bodyOf,
  bytes,
  clientFor,
  type EmulatorFixture,
  referenceContentHash,
  startEmulator,
} from './helpers.ts';

let fixture: EmulatorFixture;
beforeEach(async () => {
  fixture = await startEmulator();
});
afterEach(async () => {
  await fixture.dispose();
});

describe('the Dropbox emulator with long names', () => {
  it('stores and lists a 255-unit CJK file name (765 bytes of UTF-8) under its Dropbox spelling', async () => {
    // Prepare
    const name = `${'図'.repeat(251)}.pdf`;
    const path = `/Long/${name}`;
    const data = bytes(1000);
    const client = clientFor(fixture.emulator);
    // Act
    const written = await client.upload({
      path,
      size: data.byteLength,
      clientModified: new Date('2026-11-27T10:00:00Z'),
      onConflict: 'rename',
      body: bodyOf(data),
    });
    const read = await client.getFileMetadata(path);
    const listed = await client.listFolder('/Long');
    // Assess
    expect(written.name).toBe(name);
    expect(read?.contentHash).toBe(referenceContentHash(data));
    expect(listed.map((file) => file.name)).toEqual([name]);
  });
});
