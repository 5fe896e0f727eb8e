/** The demo set `npm start` uploads: every ticket type and status, aliases present and missing, a name clash,
 * Unicode names, a zero-byte file and one large file. Content is generated, never stored in the repo. */
import { Readable } from 'node:stream';
import { encodeRfc2047 } from '../../lib/ticket-file.ts';

/** One demo upload. */
export interface DemoFile {
  readonly key: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly size: number;
  /** A tag set after the upload (re-evaluated through its `ObjectTagging:Put` event). */
  readonly tagLater?: Readonly<Record<string, string>>;
  readonly note: string;
}

const KIB = 1024;
const MIB = 1024 * KIB;

/** The demo set. `largeFileBytes` sizes the large print file (200 MiB in the demo). */
export function demoFiles(largeFileBytes: number = 200 * MIB): DemoFile[] {
  const print = { 'ticket-type': 'print', 'publication-alias': 'DailyNews', 'issue-alias': '2026-12-01' };
  return [
    {
      key: 'tickets/1001/Proof v1.pdf',
      metadata: { ...print, 'ticket-id': '1001' },
      size: 180 * KIB,
      note: 'print, non-final',
    },
    {
      key: 'tickets/1001/Final Art.pdf',
      metadata: { ...print, 'ticket-id': '1001', 'file-status': 'final' },
      size: 220 * KIB,
      note: 'print, final',
    },
    {
      key: 'tickets/1002/Banner 300x250.png',
      metadata: {
        'ticket-type': 'digital-ad',
        'ticket-id': '1002',
        'publication-alias': 'WebPortal',
        'issue-alias': 'Dec-2026',
      },
      size: 48 * KIB,
      note: 'digital ad, non-final',
    },
    {
      key: 'tickets/1003/Spot.mp4',
      metadata: {
        'ticket-type': 'digital-media',
        'ticket-id': '1003',
        'product-alias': 'Podcast',
        'file-status': 'Ready-To-Deliver',
      },
      size: 3 * MIB,
      note: 'digital media, ready to deliver',
    },
    {
      key: 'tickets/1003/Script draft.docx',
      metadata: {
        'ticket-type': 'digital-media',
        'ticket-id': '1003',
        'product-alias': 'Podcast',
        'file-status': 'final',
      },
      size: 24 * KIB,
      note: "digital media marked 'final' (not digital media's final mark)",
    },
    {
      key: 'tickets/1004/Invoice scan.pdf',
      metadata: { 'ticket-type': 'service', 'ticket-id': '1004', 'file-status': 'final' },
      size: 90 * KIB,
      note: 'service ticket (always exported)',
    },
    {
      key: 'tickets/1005/Proof.pdf',
      metadata: { ...print, 'ticket-id': '1005' },
      size: 70 * KIB,
      note: 'same name as 1006',
    },
    {
      key: 'tickets/1006/Proof.pdf',
      metadata: { ...print, 'ticket-id': '1006' },
      size: 71 * KIB,
      note: 'same name as 1005',
    },
    {
      key: 'tickets/1007/Layout.pdf',
      metadata: { 'ticket-type': 'print', 'ticket-id': '1007' },
      size: 33 * KIB,
      note: 'print without aliases (base folder, with a warning)',
    },
    {
      key: 'tickets/1008/Affiche été 🎨 + plan.tif',
      metadata: {
        'ticket-type': 'print',
        'ticket-id': '1008',
        'publication-alias': encodeRfc2047('Région Sud'),
        'issue-alias': encodeRfc2047('N°42'),
        'file-name': encodeRfc2047('Affiche été 🎨 + plan.tif'),
      },
      size: 5 * MIB + 123,
      note: 'Unicode key, RFC 2047 metadata',
    },
    {
      key: 'tickets/1009/Empty note.txt',
      metadata: { 'ticket-type': 'service', 'ticket-id': '1009' },
      size: 0,
      note: 'zero bytes',
    },
    {
      key: 'tickets/1010/Catalogue.pdf',
      metadata: { ...print, 'ticket-id': '1010' },
      size: largeFileBytes,
      note: `large file (${Math.round(largeFileBytes / MIB)} MiB, upload session)`,
    },
    {
      key: 'tickets/1011/Cover.pdf',
      metadata: { ...print, 'ticket-id': '1011' },
      size: 64 * KIB,
      tagLater: { 'file-status': 'final' },
      note: 'exported, then tagged final (re-evaluated; nothing is deleted from Dropbox)',
    },
    { key: 'tickets/readme.txt', metadata: {}, size: 1 * KIB, note: 'no ticket-type: not a ticket file' },
  ];
}

/** Deterministic content for a demo key: the same key always yields the same bytes. */
export function demoContent(key: string, size: number, chunkBytes: number = MIB): Readable {
  let seed = 2166136261;
  for (const char of key) seed = Math.imul(seed ^ (char.codePointAt(0) ?? 0), 16777619) >>> 0;
  let produced = 0;
  return Readable.from(
    (function* generate() {
      while (produced < size) {
        const length = Math.min(chunkBytes, size - produced);
        const chunk = Buffer.allocUnsafe(length);
        for (let offset = 0; offset + 4 <= length; offset += 4) {
          seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
          chunk.writeUInt32LE(seed, offset);
        }
        for (let offset = length - (length % 4); offset < length; offset += 1) chunk[offset] = 0x2a;
        produced += length;
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}
