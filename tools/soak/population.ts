/**
 * The soak's objects: a seeded, reproducible population of ticket files (every ticket type and status, sizes from
 * zero bytes to hundreds of MiB), the mutations each gets during the run, and the outcome each must end with under
 * the soak's settings. The expected paths and decisions are written here from DESIGN.md's tables, independently of
 * lib/rules.ts, so the verifier does not grade the product with its own answers.
 */

import { encodeRfc2047 } from '../../lib/ticket-file.ts';
import { createRandom } from '../seeded-random.ts';

/** The settings the soak runs with (written to SSM before the stack starts). */
export const SOAK_SETTINGS: Readonly<Record<string, string>> = {
  // `final` gives every kind of decision: finals export, non-finals skip until a late final tag, service always.
  'export-by-status': 'final',
  'export-to-single-folder': 'no',
  'base-folder': '/Soak',
  // s3rver keeps no versions: `overwrite` with unique ticket ids makes "the newest version at its path, no
  // autorenamed copies" provable (DESIGN.md: choose overwrite together with {ticketId} in the template).
  'on-conflict': 'overwrite',
  'file-name-template': '{ticketId}-{fileName}',
};

/** Text in the Dropbox name of a poison object: the soak's Dropbox proxy answers 503 to any call naming it. */
export const POISON_MARKER = 'POISON-PILL';

const MIB = 1024 * 1024;

/** What happens to an object after its upload. */
export type Mutation = 'none' | 'new-version' | 'late-final' | 'unrelated-tag' | 'delete';

/** What the object is, for the rules. */
export type ObjectKind = 'ticket' | 'not-a-ticket' | 'unknown-type' | 'poison';

/** One version's content: generated from `seed` (tools/soak/content.ts). */
export interface Version {
  readonly size: number;
  readonly seed: number;
}

/** One object of the soak and what the run did to it. */
export interface SoakObject {
  readonly index: number;
  readonly key: string;
  readonly kind: ObjectKind;
  readonly ticketType: string | undefined;
  readonly ticketId: string;
  /** User metadata at upload (kept by new versions). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tags at upload (the `x-amz-tagging` header). */
  readonly uploadTags: Readonly<Record<string, string>>;
  readonly mutation: Mutation;
  /** Versions uploaded, oldest first; the last is the newest. */
  readonly versions: Version[];
  /** The tags the object has now. */
  tags: Record<string, string>;
  deleted: boolean;
  /** When the unrelated tag was applied (ms since epoch). */
  unrelatedTagAt: number | undefined;
}

/** What the verifier expects of an object. */
export type Expectation =
  | { readonly export: true; readonly path: string }
  | { readonly export: false; readonly reason: string };

const PUBLICATIONS = ['Daily Herald', 'Weekend', 'Côte Magazine'];
const ISSUES = ['2026-11', '2026-12', 'Winter Special'];
const PRODUCTS = ['Homepage Takeover', 'Newsletter', 'App Banner'];
const NAMES = [
  'Proof.pdf',
  'artwork final.tif',
  'Ad copy v2.docx',
  'Épreuve.pdf',
  '校正.pdf',
  'logo.eps',
  'banner.png',
];
/** `none`: no file-status at all (non-final); `Approved`: an unknown value (non-final, with a warning). */
const STATUSES = ['final', 'ready-to-deliver', 'non-final', 'none', 'Approved'] as const;
const TYPES = ['print', 'digital-ad', 'digital-media', 'service'] as const;

/** Options of {@link buildPopulation}. */
export interface PopulationOptions {
  readonly count: number;
  readonly seed: number;
  /** How many objects of `count` are poison. @default 3 */
  readonly poison?: number;
  /** Sizes of the large objects, in MiB. @default [300, 240, 180, 120, 100] */
  readonly largeMiB?: readonly number[];
  /** How many medium objects (2 to 40 MiB). @default 15 */
  readonly medium?: number;
}

function pick<T>(random: () => number, values: readonly T[]): T {
  const value = values[Math.floor(random() * values.length)];
  if (value === undefined) throw new RangeError('pick from an empty list');
  return value;
}

/** The final mark of a ticket type, or `undefined` for service (no final mark). */
function finalMarkOf(ticketType: string): string | undefined {
  if (ticketType === 'print' || ticketType === 'digital-ad') return 'final';
  if (ticketType === 'digital-media') return 'ready-to-deliver';
  return undefined;
}

/** Builds the population: deterministic for a seed. */
export function buildPopulation(options: PopulationOptions): SoakObject[] {
  const random = createRandom(options.seed);
  const poison = options.poison ?? 3;
  const large = options.largeMiB ?? [300, 240, 180, 120, 100];
  const medium = options.medium ?? 15;
  const objects: SoakObject[] = [];
  for (let index = 0; index < options.count; index += 1) {
    const ticketId = `T${100_000 + index}`;
    let kind: ObjectKind = 'ticket';
    if (index < poison) kind = 'poison';
    else if (index % 37 === 5) kind = 'not-a-ticket';
    else if (index % 43 === 7) kind = 'unknown-type';
    const ticketType =
      kind === 'poison'
        ? 'service'
        : kind === 'not-a-ticket'
          ? undefined
          : kind === 'unknown-type'
            ? 'poster'
            : TYPES[index % TYPES.length];
    const name = kind === 'poison' ? `${POISON_MARKER}.pdf` : pick(random, NAMES);
    const metadata: Record<string, string> = { 'ticket-id': ticketId };
    if (ticketType !== undefined) metadata['ticket-type'] = ticketType;
    if (ticketType === 'print' || ticketType === 'digital-ad') {
      // One in twenty print/digital-ad files has no aliases: it goes to the base folder with a warning.
      if (index % 20 !== 3) {
        metadata['publication-alias'] = pick(random, PUBLICATIONS);
        metadata['issue-alias'] = pick(random, ISSUES);
      }
    }
    if (ticketType === 'digital-media') metadata['product-alias'] = pick(random, PRODUCTS);
    let size: number;
    const largeIndex = index - poison;
    const isLarge = kind === 'ticket' && largeIndex >= 0 && largeIndex < large.length;
    if (isLarge) {
      size = Math.round((large[largeIndex] ?? 1) * MIB - random() * 1000);
    } else if (kind === 'ticket' && largeIndex >= large.length && largeIndex < large.length + medium) {
      size = Math.round((2 + random() * 38) * MIB);
    } else if (index % 50 === 11) {
      size = 0;
    } else {
      // Mostly under 1 MiB, log-uniform from a byte up.
      size = Math.floor(Math.exp(random() * Math.log(MIB)));
    }
    // The large objects are made to export (final, or service): moving them is the point of having them.
    const draw = kind === 'poison' ? 'none' : pick(random, STATUSES);
    const drawn = draw === 'none' ? undefined : draw;
    const status = isLarge && ticketType !== undefined ? (finalMarkOf(ticketType) ?? drawn) : drawn;
    const uploadTags: Record<string, string> = {};
    if (status !== undefined) {
      // A status known at upload travels in the metadata or in the upload's own tags (DESIGN.md).
      if (random() < 0.3) uploadTags['file-status'] = status;
      else metadata['file-status'] = status;
    }
    objects.push({
      index,
      key: `tickets/${ticketId}/${name}`,
      kind,
      ticketType,
      ticketId,
      metadata,
      uploadTags,
      mutation: 'none',
      versions: [{ size, seed: options.seed * 1000 + index }],
      tags: { ...uploadTags },
      deleted: false,
      unrelatedTagAt: undefined,
    });
  }
  return assignMutations(objects, random);
}

/** True when the object exports under the soak's settings with these tags. */
function qualifies(object: SoakObject, tags: Readonly<Record<string, string>>): boolean {
  if (object.kind !== 'ticket' || object.ticketType === undefined) return object.kind === 'poison';
  if (object.ticketType === 'service') return true;
  const status = (tags['file-status'] ?? object.metadata['file-status'] ?? 'non-final').trim().toLowerCase();
  return status === finalMarkOf(object.ticketType);
}

function assignMutations(objects: SoakObject[], random: () => number): SoakObject[] {
  const mutated = objects.map((object) => {
    if (object.kind === 'poison' || object.versions[0] === undefined) return object;
    const size = object.versions[0].size;
    const draw = random();
    let mutation: Mutation = 'none';
    const small = size <= 4 * MIB;
    const exportsNow = qualifies(object, object.uploadTags);
    const canBeFinalLater =
      object.kind === 'ticket' &&
      object.ticketType !== 'service' &&
      !exportsNow &&
      object.ticketType !== undefined;
    if (draw < 0.1 && small) mutation = 'new-version';
    else if (draw < 0.22 && canBeFinalLater) mutation = 'late-final';
    else if (draw < 0.32 && exportsNow && small) mutation = 'unrelated-tag';
    else if (draw < 0.36 && small) mutation = 'delete';
    return { ...object, mutation };
  });
  return mutated;
}

/**
 * User metadata as the ticket system sends it: S3 carries non-ASCII values as RFC 2047 encoded-words (DESIGN.md
 * "Upload contract"), so those are sent encoded; ASCII values go as they are.
 */
export function encodeMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const encoded: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    encoded[name] = encodeRfc2047(value);
  }
  return encoded;
}

/** The tags a late final tag leaves on the object: its final mark (the ticket system's PutObjectTagging). */
export function lateFinalTags(object: SoakObject): Record<string, string> {
  const mark = object.ticketType === undefined ? undefined : finalMarkOf(object.ticketType);
  return { ...object.tags, 'file-status': mark ?? 'final' };
}

/** The tags after a malware scanner adds its own: unrelated to the rules. */
export function unrelatedTags(object: SoakObject): Record<string, string> {
  return { ...object.tags, 'av-scan': 'clean', 'av-scanned-at': '2026-11-27T12:00:00Z' };
}

/**
 * The next version of an object: other content and a size that differs by 1 to 4096 bytes. The product tells an
 * export apart from a new version by size and modified time (to the second), so a same-size rewrite within the same
 * second would be taken for the export already there (see docs/reliability.md); real new versions differ in size.
 */
export function nextVersion(object: SoakObject, random: () => number): Version {
  const last = object.versions.at(-1) ?? { size: 0, seed: object.index };
  return { size: last.size + 1 + Math.floor(random() * 4096), seed: last.seed + 7919 };
}

/** What the object must end as, under {@link SOAK_SETTINGS}. */
export function expectationOf(object: SoakObject): Expectation {
  if (object.kind === 'not-a-ticket') return { export: false, reason: 'not-a-ticket-file' };
  if (object.kind === 'unknown-type') return { export: false, reason: 'unknown-ticket-type' };
  if (!qualifies(object, object.tags)) return { export: false, reason: 'non-final-excluded' };
  const name = `${object.ticketId}-${object.key.slice(object.key.lastIndexOf('/') + 1)}`.normalize('NFC');
  const m = object.metadata;
  let folders: string[] = [];
  if (object.ticketType === 'print' || object.ticketType === 'digital-ad') {
    const publication = m['publication-alias'];
    const issue = m['issue-alias'];
    if (publication !== undefined && issue !== undefined) folders = [publication, issue];
  } else if (object.ticketType === 'digital-media') {
    const product = m['product-alias'];
    if (product !== undefined) folders = [product];
  }
  return { export: true, path: ['/Soak', ...folders, name].join('/').normalize('NFC') };
}
