/**
 * `explain`'s words for the sync's plan (cli/actions/explain.ts describePlan): a new version of an object whose file
 * another object shares goes beside it under `rename`, and replaces it under `overwrite`, which replaces whatever is
 * at the path.
 */
import { describe, expect, it } from 'vitest';
import { describePlan } from '../../cli/actions/explain.ts';
import type { DropboxFile } from '../../lib/ports.ts';
import type { WritePlan } from '../../lib/sync.ts';

const shared: DropboxFile = {
  id: 'id:shared',
  name: 'Proof.pdf',
  pathDisplay: '/Ticket Files/Proof.pdf',
  pathLower: '/ticket files/proof.pdf',
  size: 14,
  rev: '015f0000000000000001',
  contentHash: 'a'.repeat(64),
  clientModified: '2026-11-29T10:00:00Z',
  serverModified: '2026-11-29T10:00:01Z',
};

const beside: WritePlan = {
  kind: 'upload',
  path: '/Ticket Files/Proof.pdf',
  existing: shared,
  leaves: { id: shared.id, owned: true },
};

describe("explain's next event for a new version of a shared file", () => {
  it.each([
    ['rename', 'write-beside', /writes this version beside it .* under a renamed name/],
    ['overwrite', 'overwrite', /replaces the file at \/Ticket Files\/Proof\.pdf \(on-conflict overwrite\)/],
  ] as const)('under on-conflict %s: %s', (onConflict, action, message) => {
    // Act
    const described = describePlan(beside, onConflict);

    // Assess
    expect(described.action).toBe(action);
    expect(described.message).toMatch(message);
  });
});
