/**
 * Object keys with every awkward character class, through the whole local stack: S3 (s3rver behind the notifying
 * proxy, which URL-encodes keys as S3 does), SQS, the function and the Dropbox emulator. Each file lands at the
 * Dropbox name DESIGN.md names (the key's last segment, sanitised, in NFC), with its content intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeContentHash } from '../../lib/dropbox/content-hash.ts';
import { dropboxTree, type Harness, startHarness } from '../support/harness.ts';
import { PRINT } from './support.ts';

/** S3's limit on a key: 1024 bytes of UTF-8. */
const S3_KEY_MAX_BYTES = 1024;

const KEYS: readonly (readonly [string, string, string])[] = [
  ['a space', 'tickets/k1/Proof final.pdf', 'Proof final.pdf'],
  ['a plus sign (a space once URL-decoded, if decoded wrongly)', 'tickets/k1/A+B.pdf', 'A+B.pdf'],
  ['a percent sign', 'tickets/k1/100% proof.pdf', '100% proof.pdf'],
  ['a literal %2B', 'tickets/k1/literal%2B.pdf', 'literal%2B.pdf'],
  ['a literal %20 and +', 'tickets/k1/a%20b+c.pdf', 'a%20b+c.pdf'],
  ['a hash', 'tickets/k1/#1 proof.pdf', '#1 proof.pdf'],
  ['a question mark', 'tickets/k1/why?.pdf', 'why?.pdf'],
  ['an ampersand and an equals sign', 'tickets/k1/a&b=c.pdf', 'a&b=c.pdf'],
  ['quotes, brackets and a semicolon', `tickets/k1/"q" [b] {c} 'd';.pdf`, `"q" [b] {c} 'd';.pdf`],
  ['a backslash (replaced for Dropbox)', 'tickets/k1/back\\slash.pdf', 'back_slash.pdf'],
  ['trailing dots and spaces (trimmed for Dropbox)', 'tickets/k1/ends with dots. . .', 'ends with dots'],
  ['emoji', 'tickets/k2/📎 proof 🎨.pdf', '📎 proof 🎨.pdf'],
  ['emoji with a ZWJ sequence and a flag', 'tickets/k2/👩‍👩‍👧 🇳🇴.pdf', '👩‍👩‍👧 🇳🇴.pdf'],
  ['CJK', 'tickets/k2/校正刷り_広告.pdf', '校正刷り_広告.pdf'],
  ['Hangul', 'tickets/k2/교정쇄.pdf', '교정쇄.pdf'],
  ['Hebrew (RTL)', 'tickets/k2/הגהה סופית.pdf', 'הגהה סופית.pdf'],
  ['Arabic (RTL) with an RTL mark', 'tickets/k2/مسودة\u200f نهائية.pdf', 'مسودة\u200f نهائية.pdf'],
  ['a combining mark in NFD (stored in NFC)', 'tickets/k3/Cafe\u0301.pdf', 'Caf\u00e9.pdf'],
];

/** A key of `bytes` bytes of UTF-8: ASCII folders (s3rver keeps each key segment as a file name) and a CJK name. */
function keyOfBytes(bytes: number): { key: string; name: string } {
  const name = `${'長'.repeat(68)}.pdf`;
  const folders = ['tickets', 'long'];
  let key = `${folders.join('/')}/${name}`;
  let folder = 0;
  while (Buffer.byteLength(key) < bytes) {
    const room = bytes - Buffer.byteLength(key) - 1;
    folders.push(`${String.fromCharCode(97 + folder)}`.repeat(Math.min(200, room)));
    folder += 1;
    key = `${folders.join('/')}/${name}`;
  }
  return { key, name };
}

describe('awkward object keys', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ settings: { 'base-folder': '/Keys' } });
  });
  afterAll(async () => {
    await harness?.close();
  });

  it.each(KEYS)('exports a key with %s under its Dropbox name', async (_label, key, name) => {
    // Prepare
    const content = `content of ${key}`;
    await harness.put(key, content, PRINT);

    // Act
    const failed = await harness.drain();

    // Assess
    expect(failed).toEqual([]);
    const outcome = harness.outcomes.at(-1);
    expect(outcome).toMatchObject({ key, decision: 'exported', dropboxPath: `/Keys/${name}` });
    const file = await harness.dropbox.getFileMetadata(`/Keys/${name}`);
    expect(file?.contentHash).toBe(computeContentHash(Buffer.from(content)));
  });

  it('exports a key of 1020 bytes, near S3’s 1024-byte limit', async () => {
    // Prepare
    const { key, name } = keyOfBytes(1020);
    await harness.put(key, 'long key', PRINT);

    // Act
    const failed = await harness.drain();

    // Assess
    expect(Buffer.byteLength(key)).toBe(1020);
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(S3_KEY_MAX_BYTES);
    expect(failed).toEqual([]);
    expect(harness.outcomes.at(-1)).toMatchObject({
      key,
      decision: 'exported',
      dropboxPath: `/Keys/${name}`,
    });
  });

  it('keeps both files when the NFC and NFD spellings of one name are two objects', async () => {
    // Prepare
    await harness.setSetting('base-folder', '/Keys NFC');
    await harness.put('tickets/k4/Re\u0301sume\u0301.pdf', 'the NFD object', PRINT);
    await harness.put('tickets/k4/R\u00e9sum\u00e9.pdf', 'the NFC object, longer', PRINT);

    // Act
    const failed = await harness.drain();

    // Assess
    await harness.setSetting('base-folder', '/Keys');
    expect(failed).toEqual([]);
    const tree = await dropboxTree(harness.dropbox, '/Keys NFC');
    expect(Object.values(tree).sort()).toEqual([14, 22]);
    expect(Object.keys(tree).every((path) => path === path.normalize('NFC'))).toBe(true);
    expect(Object.keys(tree).sort()).toEqual([
      '/Keys NFC/R\u00e9sum\u00e9 (1).pdf',
      '/Keys NFC/R\u00e9sum\u00e9.pdf',
    ]);
  });
});
