/**
 * README.md's receipts against the code: the field table, the example `detail`, the `detail-type`s and the rule
 * pattern, each read from the README (test/receipts/readme-shape.ts). The local stack's receipts are checked against
 * the same table in test/receipts/flow.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { RECEIPT_ATTRIBUTES } from '../../lib/aws/dynamodb-receipts.ts';
import { toPutEventsEntry } from '../../lib/aws/eventbridge-receipts.ts';
import { LEDGER_ATTRIBUTES } from '../../lib/ledger.ts';
import { dueReceipt, RECEIPT_DETAIL_TYPES, RECEIPT_SOURCE, type ReceiptSource } from '../../lib/receipts.ts';
import {
  documentedDetailFields,
  documentedDetailTypes,
  documentedJsonBlocks,
  documentedLedgerAttributes,
  matchesPattern,
  shapeProblems,
} from './readme-shape.ts';

const record = (ticketId: string, state: string, withExport: boolean): ReceiptSource => ({
  id: `s3://ticket-files/tickets/${ticketId}/Proof.pdf`,
  bucket: 'ticket-files',
  key: `tickets/${ticketId}/Proof.pdf`,
  object: { versionId: 'v1', eTag: 'e1', size: 10 },
  ticket: { id: ticketId, type: 'print', fileStatus: 'final' },
  state,
  reason: { code: 'final-file', message: 'Export: final.' },
  stateAt: '2026-12-01T14:02:03.000Z',
  export: withExport
    ? {
        exportedAt: '2026-12-01T14:02:03.000Z',
        file: { id: 'id:x', rev: 'r1', pathDisplay: '/Ticket Files/Proof.pdf', contentHash: 'h', size: 10 },
      }
    : undefined,
});

/** The event a rule sees for a receipt: the entry as the adapter sends it, as EventBridge delivers it. */
function asDelivered(source: ReceiptSource): Record<string, unknown> {
  const receipt = dueReceipt(source);
  if (receipt === undefined) throw new Error('no receipt due');
  const entry = toPutEventsEntry(receipt, 'default');
  return {
    source: entry.Source,
    'detail-type': entry.DetailType,
    resources: entry.Resources,
    detail: JSON.parse(entry.Detail ?? '{}') as unknown,
  };
}

describe("the README's receipts", () => {
  it('documents every field of a receipt with its type, and no field the receipt lacks', () => {
    // Prepare
    const fields = documentedDetailFields();

    // Act
    const exported = dueReceipt(record('9002', 'exported', true))?.detail;
    const skipped = dueReceipt({
      id: 's3://ticket-files/tickets/readme.txt',
      bucket: 'ticket-files',
      key: 'tickets/readme.txt',
      state: 'skipped',
      reason: { code: 'not-a-ticket-file', message: 'Skip' },
      stateAt: '2026-12-01T14:02:03.000Z',
    })?.detail;

    // Assess
    expect(fields.map((field) => field.path)).toContain('dropbox.contentHash');
    expect(shapeProblems(exported, fields)).toEqual([]);
    expect(shapeProblems(skipped, fields)).toEqual([]);
  });

  it('catches a field that is not documented, missing or of another type (the check can fail)', () => {
    // Prepare
    const fields = documentedDetailFields();
    const detail = dueReceipt(record('9002', 'exported', true))?.detail as unknown as Record<string, unknown>;

    // Act
    const problems = shapeProblems({ ...detail, secret: 'x', size: '10', ticketId: undefined }, fields);

    // Assess
    expect(problems).toEqual(
      expect.arrayContaining(['secret is not documented', 'size is string, documented as number']),
    );
    const { key: _key, ...withoutKey } = detail;
    expect(shapeProblems(withoutKey, fields)).toEqual(['key is missing']);
  });

  it('shows an example detail that has the documented shape', () => {
    // Act
    const [example] = documentedJsonBlocks();

    // Assess
    expect(shapeProblems(example, documentedDetailFields())).toEqual([]);
  });

  it('lists exactly the detail-types the function sends', () => {
    // Assess
    expect(documentedDetailTypes().sort()).toEqual(Object.values(RECEIPT_DETAIL_TYPES).sort());
  });

  it("shows a rule pattern that matches ticket 9002's exports and nothing else", () => {
    // Prepare
    const pattern = documentedJsonBlocks()[1];

    // Act
    const matches = {
      export9002: matchesPattern(asDelivered(record('9002', 'exported', true)), pattern),
      export9001: matchesPattern(asDelivered(record('9001', 'exported', true)), pattern),
      skip9002: matchesPattern(asDelivered(record('9002', 'skipped', false)), pattern),
    };

    // Assess
    expect(pattern).toMatchObject({ source: [RECEIPT_SOURCE] });
    expect(matches).toEqual({ export9002: true, export9001: false, skip9002: false });
  });

  it("documents every attribute of the ledger item, the receipts' own included", () => {
    // Act
    const documented = documentedLedgerAttributes();

    // Assess
    expect([...documented].sort()).toEqual([...LEDGER_ATTRIBUTES, ...RECEIPT_ATTRIBUTES, 'claim'].sort());
  });
});
