/**
 * The soak's objects: a seeded, reproducible population of ticket files (every ticket type and status, sizes from
 * zero bytes to hundreds of MiB), the mutations each gets during the run, and the outcome each must end with under
 * the soak's settings. The expected paths and decisions are written here from DESIGN.md's tables, independently of
 * lib/rules.ts, so the verifier does not grade the product with its own answers.
 *
 * The soak runs in the default settings (one folder, `{fileName}`, `rename`), where files of different tickets meet
 * under one name: a third of the population shares its file name with another ticket's file, in name groups of two
 * or three (the same name; the same size uploaded in the same second; names that differ only in case; the same
 * bytes), and the rest have names of their own.
 */

import { encodeRfc2047 } from '../../lib/ticket-file.ts';
import { createRandom } from '../seeded-random.ts';

/**
 * The settings the soak writes to SSM before the stack starts: only `export-by-status final`, which gives every kind of
 * decision (finals export, non-finals skip until a late final tag, service always exports). Everything else keeps
 * DESIGN.md's default: one folder, `{fileName}`, `rename`, base folder `/Ticket Files`.
 */
export const SOAK_SETTINGS: Readonly<Record<string, string>> = {
  'export-by-status': 'final',
};

/** The settings in force during the soak (the written one and the defaults), for the report. */
export const SOAK_EFFECTIVE_SETTINGS: Readonly<Record<string, string>> = {
  'export-by-status': 'final',
  'export-to-single-folder': 'yes (default)',
  'base-folder': '/Ticket Files (default)',
  'file-name-template': '{fileName} (default)',
  'on-conflict': 'rename (default)',
};

/** DESIGN.md's default base folder: every export of the soak lands directly in it. */
export const BASE_FOLDER = '/Ticket Files';

/** Text in the Dropbox name of a poison object: the soak's Dropbox proxy answers 503 to any call naming it. */
export const POISON_MARKER = 'POISON-PILL';

const MIB = 1024 * 1024;

/**
 * How the members of a name group share their Dropbox name: the same name with other bytes, uploaded at other
 * moments; the same name and size with other bytes, uploaded in the same second; names that differ only in case
 * (one name to Dropbox); the same name and the same bytes (Dropbox writes the second one nowhere).
 */
export type NameStyle = 'same-name' | 'same-size-same-second' | 'case-only' | 'identical-bytes';

/** Objects of different tickets whose files have one Dropbox name. */
export interface NameGroup {
  readonly id: number;
  readonly style: NameStyle;
  /** The keys of the group's objects, in upload order. */
  readonly keys: readonly string[];
}

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
  /** The name group the object belongs to; `undefined` for a name of its own. */
  readonly nameGroup?: NameGroup | undefined;
  /**
   * Identical bytes: once this object and these are exported, the one of them that wrote the file they share gets a
   * new version (this object's `new-version` mutation).
   */
  readonly newVersionAfter?: readonly string[] | undefined;
}

/** What the verifier expects of an object. */
export type Expectation =
  | { readonly export: true; readonly path: string }
  | { readonly export: false; readonly reason: string };

const PUBLICATIONS = ['Daily Herald', 'Weekend', 'Côte Magazine'];
const ISSUES = ['2026-11', '2026-12', 'Winter Special'];
const PRODUCTS = ['Homepage Takeover', 'Newsletter', 'App Banner'];
/** Names as people give them; the first five are ASCII (the case-only groups change their case). */
const NAMES = [
  'Proof.pdf',
  'artwork final.tif',
  'Ad copy v2.docx',
  'logo.eps',
  'banner.png',
  'Épreuve.pdf',
  '校正.pdf',
];
const ASCII_NAMES = 5;
const NAME_STYLES: readonly NameStyle[] = [
  'same-size-same-second',
  'same-name',
  'case-only',
  'identical-bytes',
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
  /** The share of the population whose file name another ticket's file has too. @default 1/3 */
  readonly sharedNames?: number;
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

/** `Proof.pdf` → `Proof T100123.pdf`: a name of the object's own. */
function withSuffix(name: string, suffix: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? `${name} ${suffix}` : `${name.slice(0, dot)} ${suffix}${name.slice(dot)}`;
}

/** The `member`-th spelling of a case-only group's name: as written, upper-case stem, lower-case stem. */
function caseVariant(name: string, member: number): string {
  const dot = name.lastIndexOf('.');
  const [stem, extension] = dot <= 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot)];
  if (member % 3 === 1) return `${stem.toUpperCase()}${extension}`;
  if (member % 3 === 2) return `${stem.toLowerCase()}${extension}`;
  return name;
}

/** Where an object sits in a name group, decided before the objects are built. */
interface Membership {
  readonly group: number;
  readonly member: number;
  readonly style: NameStyle;
  readonly name: string;
  /** The group's first member: the one whose size (and, for identical bytes, seed) the others take. */
  readonly first: number;
}

/**
 * Chooses the name groups: `share` of the population (small ticket files only: the large ones keep names of their
 * own), shuffled, cut into groups of two or three. The first groups take each style once, the rest draw theirs.
 */
function planNameGroups(
  eligible: readonly number[],
  target: number,
  random: () => number,
): Map<number, Membership> {
  const order = [...eligible];
  for (let index = order.length - 1; index > 0; index -= 1) {
    const other = Math.floor(random() * (index + 1));
    [order[index], order[other]] = [order[other] as number, order[index] as number];
  }
  const chosen = order.slice(0, Math.min(target, order.length));
  const plan = new Map<number, Membership>();
  let group = 0;
  for (let start = 0; start + 1 < chosen.length; group += 1) {
    const left = chosen.length - start;
    const size = left === 3 || (left > 4 && random() < 0.3) ? 3 : 2;
    const members = chosen.slice(start, start + size).sort((a, b) => a - b);
    start += size;
    const style = group < NAME_STYLES.length ? (NAME_STYLES[group] as NameStyle) : drawStyle(random);
    const pool = style === 'case-only' ? NAMES.slice(0, ASCII_NAMES) : NAMES;
    const base = pool[group % pool.length] as string;
    // The first groups take the bare names (`Proof.pdf`); later ones are numbered so that groups stay apart.
    const name = group < ASCII_NAMES ? base : withSuffix(base, String(group));
    members.forEach((index, member) => {
      plan.set(index, {
        group,
        member,
        style,
        name: style === 'case-only' ? caseVariant(name, member) : name,
        first: members[0] as number,
      });
    });
  }
  return plan;
}

function drawStyle(random: () => number): NameStyle {
  const draw = random();
  if (draw < 0.4) return 'same-size-same-second';
  if (draw < 0.7) return 'same-name';
  if (draw < 0.85) return 'case-only';
  return 'identical-bytes';
}

/** Mostly under 1 MiB, log-uniform from a byte up. */
function smallSize(random: () => number): number {
  return Math.floor(Math.exp(random() * Math.log(MIB)));
}

/** Builds the population: deterministic for a seed. */
export function buildPopulation(options: PopulationOptions): SoakObject[] {
  const random = createRandom(options.seed);
  const poison = options.poison ?? 3;
  const large = options.largeMiB ?? [300, 240, 180, 120, 100];
  const medium = options.medium ?? 15;
  const kindOf = (index: number): ObjectKind =>
    index < poison
      ? 'poison'
      : index % 37 === 5
        ? 'not-a-ticket'
        : index % 43 === 7
          ? 'unknown-type'
          : 'ticket';
  const firstSmall = poison + large.length + medium;
  const eligible: number[] = [];
  for (let index = firstSmall; index < options.count; index += 1) {
    if (kindOf(index) === 'ticket' && index % 50 !== 11) eligible.push(index);
  }
  const groups = planNameGroups(eligible, Math.round(options.count * (options.sharedNames ?? 1 / 3)), random);
  const groupSizes = new Map<number, number>();
  const objects: SoakObject[] = [];
  for (let index = 0; index < options.count; index += 1) {
    const ticketId = `T${100_000 + index}`;
    const kind = kindOf(index);
    const membership = groups.get(index);
    const ticketType =
      kind === 'poison'
        ? 'service'
        : kind === 'not-a-ticket'
          ? undefined
          : kind === 'unknown-type'
            ? 'poster'
            : TYPES[index % TYPES.length];
    const drawnName = pick(random, NAMES);
    const name =
      kind === 'poison'
        ? `${POISON_MARKER} ${index}.pdf`
        : (membership?.name ?? withSuffix(drawnName, ticketId));
    const metadata: Record<string, string> = { 'ticket-id': ticketId };
    if (ticketType !== undefined) metadata['ticket-type'] = ticketType;
    if (ticketType === 'print' || ticketType === 'digital-ad') {
      // One in twenty print/digital-ad files has no aliases (in one folder, nothing depends on them).
      if (index % 20 !== 3) {
        metadata['publication-alias'] = pick(random, PUBLICATIONS);
        metadata['issue-alias'] = pick(random, ISSUES);
      }
    }
    if (ticketType === 'digital-media') metadata['product-alias'] = pick(random, PRODUCTS);
    let size: number;
    let seed = options.seed * 1000 + index;
    const largeIndex = index - poison;
    const isLarge = kind === 'ticket' && largeIndex >= 0 && largeIndex < large.length;
    const drawnSize = smallSize(random);
    if (isLarge) {
      size = Math.round((large[largeIndex] ?? 1) * MIB - random() * 1000);
    } else if (kind === 'ticket' && largeIndex >= large.length && largeIndex < large.length + medium) {
      size = Math.round((2 + random() * 38) * MIB);
    } else if (index % 50 === 11) {
      size = 0;
    } else if (
      membership !== undefined &&
      (membership.style === 'same-size-same-second' || membership.style === 'identical-bytes')
    ) {
      // The group's first member sets the size; identical bytes share its content seed too.
      size = groupSizes.get(membership.group) ?? Math.max(1, drawnSize);
      groupSizes.set(membership.group, size);
      if (membership.style === 'identical-bytes') seed = options.seed * 1000 + membership.first;
    } else {
      size = drawnSize;
    }
    // The large objects and the groups that must meet in Dropbox are made to export (final, or service).
    const mustExport =
      isLarge || membership?.style === 'same-size-same-second' || membership?.style === 'identical-bytes';
    const draw = kind === 'poison' ? 'none' : pick(random, STATUSES);
    const drawn = draw === 'none' ? undefined : draw;
    const status = mustExport && ticketType !== undefined ? (finalMarkOf(ticketType) ?? drawn) : drawn;
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
      versions: [{ size, seed }],
      tags: { ...uploadTags },
      deleted: false,
      unrelatedTagAt: undefined,
    });
  }
  return assignMutations(attachGroups(objects, groups), random);
}

/** Gives each grouped object its group (with every member's key). */
function attachGroups(objects: SoakObject[], groups: ReadonlyMap<number, Membership>): SoakObject[] {
  const keys = new Map<number, string[]>();
  const styles = new Map<number, NameStyle>();
  for (const object of objects) {
    const membership = groups.get(object.index);
    if (membership === undefined) continue;
    keys.set(membership.group, [...(keys.get(membership.group) ?? []), object.key]);
    styles.set(membership.group, membership.style);
  }
  const built = new Map<number, NameGroup>();
  for (const [id, members] of keys) {
    built.set(id, { id, style: styles.get(id) ?? 'same-name', keys: members });
  }
  return objects.map((object) => {
    const membership = groups.get(object.index);
    return membership === undefined ? object : { ...object, nameGroup: built.get(membership.group) };
  });
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
    const group = object.nameGroup;
    if (group?.style === 'identical-bytes') {
      // Once the members share one file, the member that wrote it gets a new version (the soak finds which one
      // from the ledger): the new version must not take the shared file from the others.
      const [first, ...others] = group.keys;
      return first === object.key
        ? { ...object, mutation: 'new-version' as const, newVersionAfter: others }
        : object;
    }
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
 * The next version of an object: other content, and in a third of the cases the same size (the ledger tells
 * versions apart by their ETag, never by size and modified time); otherwise 1 to 4096 bytes more.
 */
export function nextVersion(object: SoakObject, random: () => number): Version {
  const last = object.versions.at(-1) ?? { size: 0, seed: object.index };
  const sameSize = last.size > 0 && random() < 1 / 3;
  return { size: sameSize ? last.size : last.size + 1 + Math.floor(random() * 4096), seed: last.seed + 7919 };
}

/**
 * The soak's path clash: an earlier deployment, run with `export-to-single-folder no`, left the alias folder
 * `<base>/Daily Herald/` with a file in it; in one folder now, a service file named `Daily Herald` asks for that very
 * path. The folder is left as it is, and the file must still arrive (Dropbox's autorename: `Daily Herald (1)`).
 */
export const PATH_CLASH = {
  /** The folder the earlier deployment left, and the file in it (which nothing may touch). */
  folderFile: `${BASE_FOLDER}/Daily Herald/2026-11/Proof.pdf`,
  folderFileContent: 'an export of an earlier deployment, in its alias folder',
  key: 'tickets/T999998/Daily Herald',
} as const;

/** The object of {@link PATH_CLASH}: a service file, so it exports under any setting. */
export function pathClashObject(seed: number): SoakObject {
  return {
    index: 999_998,
    key: PATH_CLASH.key,
    kind: 'ticket',
    ticketType: 'service',
    ticketId: 'T999998',
    metadata: { 'ticket-type': 'service', 'ticket-id': 'T999998' },
    uploadTags: {},
    mutation: 'none',
    versions: [{ size: 2048, seed: seed * 1000 + 999_998 }],
    tags: {},
    deleted: false,
    unrelatedTagAt: undefined,
  };
}

/** What the object must end as, under {@link SOAK_SETTINGS}: the path the rules ask for, before any rename. */
export function expectationOf(object: SoakObject): Expectation {
  if (object.kind === 'not-a-ticket') return { export: false, reason: 'not-a-ticket-file' };
  if (object.kind === 'unknown-type') return { export: false, reason: 'unknown-ticket-type' };
  if (!qualifies(object, object.tags)) return { export: false, reason: 'non-final-excluded' };
  // One folder and `{fileName}`: the key's last segment, directly in the base folder.
  const name = object.key.slice(object.key.lastIndexOf('/') + 1).normalize('NFC');
  return { export: true, path: `${BASE_FOLDER}/${name}` };
}

/**
 * True when `path` is `target` or one of Dropbox's renamed forms of it (`Proof (1).pdf`), ignoring case as Dropbox
 * does. Dropbox documents autorename as "the file name will be changed (e.g. with a number)"; the `name (n).ext` form
 * is what it does in practice.
 */
export function isTargetOrRenamed(path: string, target: string): boolean {
  const lower = path.normalize('NFC').toLowerCase();
  const wanted = target.normalize('NFC').toLowerCase();
  if (lower === wanted) return true;
  const slash = wanted.lastIndexOf('/');
  const folder = wanted.slice(0, slash + 1);
  const name = wanted.slice(slash + 1);
  const dot = name.lastIndexOf('.');
  const [stem, extension] = dot <= 0 ? [name, ''] : [name.slice(0, dot), name.slice(dot)];
  if (!lower.startsWith(folder) || !lower.endsWith(extension)) return false;
  const middle = lower.slice(folder.length, lower.length - extension.length);
  return middle.startsWith(`${stem} (`) && /^ \(\d+\)$/.test(middle.slice(stem.length));
}
