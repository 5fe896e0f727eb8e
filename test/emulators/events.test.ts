import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EventBridgeClient,
  EventBridgeServiceException,
  InternalException,
  ListRulesCommand,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type EventBridgeEmulator, startEventBridgeEmulator } from '../../tools/emulators/events/server.ts';
import { localClientConfig, rejectionOf } from './support.ts';

/** An entry whose size, as "Calculating PutEvents event entry size" counts it, is exactly `bytes` (≥ 40). */
function entryOfSize(bytes: number, withTime = true): PutEventsRequestEntry {
  const source = 'test.sizes';
  const detailType = 'Sized';
  // 'é' is two UTF-8 bytes: the size counts bytes, not characters.
  const fixed = (withTime ? 14 : 0) + source.length + detailType.length + '{"p":""}'.length + 2;
  const filler = 'x'.repeat(bytes - fixed);
  return {
    Source: source,
    DetailType: detailType,
    Detail: `{"p":"é${filler}"}`,
    Time: withTime ? new Date('2026-12-01T14:02:03Z') : undefined,
    // Not counted by the documented calculation.
    EventBusName: 'default',
    TraceHeader: 'Root=1-00000000-000000000000000000000000',
  };
}

describe('EventBridge emulator (PutEvents)', () => {
  let directory: string;
  let file: string;
  let emulator: EventBridgeEmulator;
  let client: EventBridgeClient;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'events-emulator-'));
    file = join(directory, 'receipts.jsonl');
    emulator = await startEventBridgeEmulator({ file, buses: ['tickets'] });
    client = new EventBridgeClient(localClientConfig(emulator.url));
  });

  afterEach(async () => {
    client.destroy();
    await emulator.close();
    await rm(directory, { recursive: true, force: true });
  });

  const linesWritten = async (): Promise<Record<string, unknown>[]> => {
    const text = await readFile(file, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  };

  it('accepts entries and appends each event, as a bus delivers it, to the JSON Lines file', async () => {
    // Prepare
    const entries: PutEventsRequestEntry[] = [
      {
        Source: 'ticket-dropbox-sync',
        DetailType: 'Ticket File Exported',
        Detail: JSON.stringify({ key: 'tickets/9001/Proof.pdf', ticketId: '9001' }),
        Time: new Date('2026-12-01T14:02:03.456Z'),
        Resources: ['arn:aws:s3:::ticket-files/tickets/9001/Proof.pdf'],
      },
      {
        Source: 'ticket-dropbox-sync',
        DetailType: 'Ticket File Skipped',
        Detail: '{}',
        EventBusName: emulator.busArn('tickets'),
      },
    ];

    // Act
    const result = await client.send(new PutEventsCommand({ Entries: entries }));

    // Assess
    expect(result.FailedEntryCount).toBe(0);
    expect(result.Entries).toHaveLength(2);
    const ids = (result.Entries ?? []).map((entry) => entry.EventId);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const lines = await linesWritten();
    expect(lines).toEqual([
      {
        version: '0',
        id: ids[0],
        'detail-type': 'Ticket File Exported',
        source: 'ticket-dropbox-sync',
        account: '000000000000',
        time: '2026-12-01T14:02:03Z',
        region: 'us-east-1',
        resources: ['arn:aws:s3:::ticket-files/tickets/9001/Proof.pdf'],
        detail: { key: 'tickets/9001/Proof.pdf', ticketId: '9001' },
      },
      expect.objectContaining({
        id: ids[1],
        'detail-type': 'Ticket File Skipped',
        resources: [],
        detail: {},
      }),
    ]);
    expect(emulator.events.map((event) => event.id)).toEqual(ids);
  });

  it('refuses a call of 11 entries as a whole and keeps none of them', async () => {
    // Prepare
    const entry = { Source: 'test.limits', DetailType: 'One', Detail: '{}' };

    // Act
    const error = await rejectionOf(
      client.send(new PutEventsCommand({ Entries: Array.from({ length: 11 }, () => entry) })),
    );
    const ten = await client.send(new PutEventsCommand({ Entries: Array.from({ length: 10 }, () => entry) }));

    // Assess
    expect(error).toBeInstanceOf(EventBridgeServiceException);
    expect((error as EventBridgeServiceException).name).toBe('ValidationException');
    expect((error as EventBridgeServiceException).$metadata.httpStatusCode).toBe(400);
    expect(ten.FailedEntryCount).toBe(0);
    expect(await linesWritten()).toHaveLength(10);
  });

  it('sizes entries as AWS documents it and refuses a call whose entries total 256 KB or more', async () => {
    // Prepare: two entries that total exactly 262,144 bytes, then one byte less.
    const half = 128 * 1024;

    // Act
    const error = await rejectionOf(
      client.send(new PutEventsCommand({ Entries: [entryOfSize(half), entryOfSize(half, false)] })),
    );
    const below = await client.send(
      new PutEventsCommand({ Entries: [entryOfSize(half), entryOfSize(half - 1, false)] }),
    );

    // Assess
    expect((error as EventBridgeServiceException).name).toBe('ValidationException');
    expect((error as EventBridgeServiceException).message).toBe(
      'Total size of the entries in the request is over the limit.',
    );
    expect(below.FailedEntryCount).toBe(0);
    expect(await linesWritten()).toHaveLength(2);
  });

  it('fails bad entries one by one with their ErrorCode and accepts the others in the same call', async () => {
    // Prepare
    const good = { Source: 'test.entries', DetailType: 'Good', Detail: '{"n":1}' };

    // Act
    const result = await client.send(
      new PutEventsCommand({
        Entries: [
          { ...good, Detail: '[1, 2]' },
          { Source: 'test.entries', Detail: '{}' },
          good,
          { ...good, EventBusName: 'no-such-bus' },
          { ...good, Source: 'aws.s3' },
          { ...good, DetailType: 'x'.repeat(129) },
        ],
      }),
    );

    // Assess
    expect(result.FailedEntryCount).toBe(5);
    expect(result.Entries?.map((entry) => entry.ErrorCode)).toEqual([
      'MalformedDetail',
      'InvalidArgument',
      undefined,
      'InvalidArgument',
      'NotAuthorizedForSourceException',
      'InvalidArgument',
    ]);
    expect(result.Entries?.[2]?.EventId).toBeDefined();
    expect(result.Entries?.[1]?.ErrorMessage).toContain('DetailType');
    expect(await linesWritten()).toEqual([
      expect.objectContaining({ 'detail-type': 'Good', detail: { n: 1 } }),
    ]);
  });

  it('refuses a call in which no entry has Source, DetailType and Detail', async () => {
    // Act
    const error = await rejectionOf(
      client.send(new PutEventsCommand({ Entries: [{ Source: 'test.entries', DetailType: 'No detail' }] })),
    );

    // Assess
    expect((error as EventBridgeServiceException).name).toBe('ValidationException');
    expect(emulator.events).toHaveLength(0);
  });

  it('refuses the next entries with a retryable code when told to, then accepts them again', async () => {
    // Prepare
    emulator.setFaults({ refuseEntries: 1, errorCode: 'ThrottlingException' });
    const entries = ['a', 'b'].map((name) => ({ Source: 'test.faults', DetailType: name, Detail: '{}' }));

    // Act
    const first = await client.send(new PutEventsCommand({ Entries: entries }));
    const retry = await client.send(new PutEventsCommand({ Entries: entries.slice(0, 1) }));

    // Assess
    expect(first.FailedEntryCount).toBe(1);
    expect(first.Entries?.[0]?.ErrorCode).toBe('ThrottlingException');
    expect(first.Entries?.[1]?.EventId).toBeDefined();
    expect(retry.FailedEntryCount).toBe(0);
    expect(emulator.events.map((event) => event['detail-type'])).toEqual(['b', 'a']);
  });

  it('answers 500 InternalException to every call while unavailable', async () => {
    // Prepare
    emulator.setFaults({ unavailable: true });

    // Act
    const error = await rejectionOf(
      client.send(
        new PutEventsCommand({ Entries: [{ Source: 'test.down', DetailType: 'x', Detail: '{}' }] }),
      ),
    );
    emulator.setFaults({});
    const after = await client.send(
      new PutEventsCommand({ Entries: [{ Source: 'test.down', DetailType: 'x', Detail: '{}' }] }),
    );

    // Assess
    expect(error).toBeInstanceOf(InternalException);
    expect((error as InternalException).$metadata.httpStatusCode).toBe(500);
    expect(after.FailedEntryCount).toBe(0);
    expect(emulator.events).toHaveLength(1);
  });

  it('answers UnknownOperationException for an operation it does not implement', async () => {
    // Act
    const error = await rejectionOf(client.send(new ListRulesCommand({})));

    // Assess
    expect((error as EventBridgeServiceException).name).toBe('UnknownOperationException');
    expect(emulator.calls.map((call) => call.action)).toEqual(['ListRules']);
  });
});
