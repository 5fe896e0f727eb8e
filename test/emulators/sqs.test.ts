import {
  BatchEntryIdsNotDistinct,
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  EmptyBatchRequest,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  type QueueAttributeName,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
  type SQSServiceException,
  StartMessageMoveTaskCommand,
  TooManyEntriesInBatchRequest,
} from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SqsEmulator, startSqsEmulator } from '../../tools/emulators/sqs/server.ts';
import { localClientConfig, rejectionOf } from './support.ts';

describe('SQS emulator', () => {
  let emulator: SqsEmulator;
  let sqs: SQSClient;
  let work: string;
  let dlq: string;

  beforeEach(async () => {
    emulator = await startSqsEmulator({
      queues: [
        {
          name: 'work',
          visibilityTimeoutSeconds: 30,
          redrive: { deadLetterQueueName: 'work-dlq', maxReceiveCount: 2 },
        },
        { name: 'work-dlq', messageRetentionSeconds: 14 * 24 * 3600 },
      ],
    });
    sqs = new SQSClient(localClientConfig(emulator.url));
    work = emulator.queueUrl('work');
    dlq = emulator.queueUrl('work-dlq');
  });

  afterEach(async () => {
    sqs.destroy();
    await emulator.close();
  });

  async function receiveAll(queueUrl: string, visibility = 30) {
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibility,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    return Messages ?? [];
  }

  async function attributes(queueUrl: string): Promise<Record<string, string>> {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    );
    return Attributes ?? {};
  }

  it('answers queue URLs and ARNs in the AWS format and lists queues by prefix', async () => {
    // Act
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'work' }));
    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'work-' }));
    const all = await attributes(work);

    // Assess
    expect(QueueUrl).toBe(`${emulator.url}/000000000000/work`);
    expect(listed.QueueUrls).toEqual([dlq]);
    expect(all.QueueArn).toBe('arn:aws:sqs:us-east-1:000000000000:work');
    expect(emulator.queueArn('work')).toBe(all.QueueArn);
  });

  it('creates a queue idempotently, also when no attributes are given, and refuses the same name with other attributes', async () => {
    // Act
    const first = await sqs.send(
      new CreateQueueCommand({ QueueName: 'fresh', Attributes: { VisibilityTimeout: '10' } }),
    );
    const again = await sqs.send(
      new CreateQueueCommand({ QueueName: 'fresh', Attributes: { VisibilityTimeout: '10' } }),
    );
    const bare = await sqs.send(new CreateQueueCommand({ QueueName: 'fresh' }));
    const clash = await rejectionOf(
      sqs.send(new CreateQueueCommand({ QueueName: 'fresh', Attributes: { VisibilityTimeout: '20' } })),
    );

    // Assess
    expect(again.QueueUrl).toBe(first.QueueUrl);
    expect(bare.QueueUrl).toBe(first.QueueUrl);
    expect(clash).toBeInstanceOf(QueueNameExists);
  });

  it('throws QueueDoesNotExist for an unknown queue name or URL, mapped by the query-compatible header', async () => {
    // Act
    const byName = await rejectionOf(sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' })));
    const byUrl = await rejectionOf(
      sqs.send(new SendMessageCommand({ QueueUrl: `${emulator.url}/000000000000/nope`, MessageBody: 'x' })),
    );

    // Assess
    expect(byName).toBeInstanceOf(QueueDoesNotExist);
    expect(byUrl).toBeInstanceOf(QueueDoesNotExist);
    expect((byUrl as QueueDoesNotExist).$metadata.httpStatusCode).toBe(400);
  });

  it('delivers a sent message with its MD5, system attributes and a new receipt handle per receive', async () => {
    // Prepare
    const sent = await sqs.send(
      new SendMessageCommand({ QueueUrl: work, MessageBody: '{"hello":"wörld 🎉"}' }),
    );

    // Act
    const [first] = await receiveAll(work, 0);
    const [second] = await receiveAll(work, 30);

    // Assess
    expect(first?.MessageId).toBe(sent.MessageId);
    expect(first?.Body).toBe('{"hello":"wörld 🎉"}');
    expect(first?.Attributes).toMatchObject({ ApproximateReceiveCount: '1' });
    expect(Number(first?.Attributes?.SentTimestamp)).toBeGreaterThan(0);
    expect(first?.Attributes?.ApproximateFirstReceiveTimestamp).toBeDefined();
    expect(second?.MessageId).toBe(sent.MessageId);
    expect(second?.Attributes?.ApproximateReceiveCount).toBe('2');
    expect(second?.ReceiptHandle).not.toBe(first?.ReceiptHandle);
  });

  it('hides a received message for its visibility timeout, then delivers it again', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'once' }));
    const [first] = await receiveAll(work, 1);

    // Act
    const during = await receiveAll(work);
    const counts = await attributes(work);
    const { Messages: after } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: work, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['All'] }),
    );

    // Assess
    expect(first?.Body).toBe('once');
    expect(during).toEqual([]);
    expect(counts).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '1',
    });
    expect(after?.[0]?.Body).toBe('once');
    expect(after?.[0]?.Attributes?.ApproximateReceiveCount).toBe('2');
  });

  it('returns from a long poll as soon as a message arrives', async () => {
    // Prepare
    const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: work, WaitTimeSeconds: 20 }));
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'late' }));
    const { Messages } = await polling;

    // Assess
    expect(Messages?.map((message) => message.Body)).toEqual(['late']);
  });

  it('returns no messages when a long poll times out on an empty queue', async () => {
    // Act
    const result = await sqs.send(new ReceiveMessageCommand({ QueueUrl: work, WaitTimeSeconds: 1 }));

    // Assess
    expect(result.Messages ?? []).toEqual([]);
  });

  it('makes a message receivable at once after ChangeMessageVisibility to 0', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'retry me' }));
    const [received] = await receiveAll(work);

    // Act
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: work,
        ReceiptHandle: received?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const again = await receiveAll(work);

    // Assess
    expect(again.map((message) => message.Body)).toEqual(['retry me']);
  });

  it('rejects visibility changes out of range, with a stale handle, or with a handle it never issued', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'm' }));
    const [first] = await receiveAll(work, 0);
    const [second] = await receiveAll(work, 30);

    // Act
    const tooLong = await rejectionOf(
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: work,
          ReceiptHandle: second?.ReceiptHandle,
          VisibilityTimeout: 43_201,
        }),
      ),
    );
    const stale = await rejectionOf(
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: work,
          ReceiptHandle: first?.ReceiptHandle,
          VisibilityTimeout: 5,
        }),
      ),
    );
    const bogus = await rejectionOf(
      sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: work,
          ReceiptHandle: 'garbage',
          VisibilityTimeout: 5,
        }),
      ),
    );

    // Assess
    expect((tooLong as SQSServiceException).name).toBe('InvalidParameterValue');
    expect((stale as SQSServiceException).name).toBe('InvalidParameterValue');
    expect((stale as SQSServiceException).message).toContain('Message does not exist or is not available');
    expect(bogus).toBeInstanceOf(ReceiptHandleIsInvalid);
  });

  it('deletes a message by its latest receipt handle, and accepts a repeated delete', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'done' }));
    const [received] = await receiveAll(work);

    // Act
    await sqs.send(new DeleteMessageCommand({ QueueUrl: work, ReceiptHandle: received?.ReceiptHandle }));
    await sqs.send(new DeleteMessageCommand({ QueueUrl: work, ReceiptHandle: received?.ReceiptHandle }));
    const counts = await attributes(work);

    // Assess
    expect(counts).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  });

  it('keeps a message deleted with a stale receipt handle, as AWS documents it may', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'twice' }));
    const [first] = await receiveAll(work, 0);
    await receiveAll(work, 30);

    // Act
    await sqs.send(new DeleteMessageCommand({ QueueUrl: work, ReceiptHandle: first?.ReceiptHandle }));
    const counts = await attributes(work);

    // Assess
    expect(counts.ApproximateNumberOfMessagesNotVisible).toBe('1');
  });

  it('moves a message to the dead-letter queue when a receive would exceed maxReceiveCount', async () => {
    // Prepare
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'poison' }));
    const [first] = await receiveAll(work, 0);
    await receiveAll(work, 0);

    // Act
    const third = await receiveAll(work, 0);
    const [dead] = await receiveAll(dlq);

    // Assess
    expect(third).toEqual([]);
    expect(dead?.MessageId).toBe(sent.MessageId);
    expect(dead?.Body).toBe('poison');
    expect(dead?.Attributes?.SentTimestamp).toBe(first?.Attributes?.SentTimestamp);
  });

  it('reports queue depth by state, the redrive policy and the emulator-only age of the oldest message', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'visible' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'delayed', DelaySeconds: 60 }));
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'in flight' }));
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: work, MaxNumberOfMessages: 1 }));

    // Act
    const all = await attributes(work);
    const { Attributes: age } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: work,
        AttributeNames: ['ApproximateAgeOfOldestMessage' as QueueAttributeName],
      }),
    );

    // Assess
    expect(all).toMatchObject({
      ApproximateNumberOfMessages: '1',
      ApproximateNumberOfMessagesNotVisible: '1',
      ApproximateNumberOfMessagesDelayed: '1',
      VisibilityTimeout: '30',
      MessageRetentionPeriod: '345600',
    });
    expect(JSON.parse(all.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: emulator.queueArn('work-dlq'),
      maxReceiveCount: 2,
    });
    expect(all).not.toHaveProperty('ApproximateAgeOfOldestMessage');
    expect(
      Number((age as Record<string, string> | undefined)?.ApproximateAgeOfOldestMessage),
    ).toBeGreaterThanOrEqual(0);
  });

  it('reports each failing entry of a SendMessageBatch while sending the others', async () => {
    // Act
    const result = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: work,
        Entries: [
          { Id: 'ok-1', MessageBody: 'one' },
          { Id: 'bad', MessageBody: 'control \u0001 character' },
          { Id: 'ok-2', MessageBody: 'two' },
        ],
      }),
    );
    const received = await receiveAll(work);

    // Assess
    expect(result.Successful?.map((entry) => entry.Id)).toEqual(['ok-1', 'ok-2']);
    expect(result.Failed).toEqual([
      expect.objectContaining({ Id: 'bad', SenderFault: true, Code: 'InvalidMessageContents' }),
    ]);
    expect(received.map((message) => message.Body).sort()).toEqual(['one', 'two']);
  });

  it('rejects batches that are empty, too long or with repeated ids', async () => {
    // Act
    const repeated = await rejectionOf(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: work,
          Entries: [
            { Id: 'a', MessageBody: '1' },
            { Id: 'a', MessageBody: '2' },
          ],
        }),
      ),
    );
    const eleven = await rejectionOf(
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: work,
          Entries: Array.from({ length: 11 }, (_, index) => ({ Id: `m${index}`, MessageBody: 'x' })),
        }),
      ),
    );
    const empty = await rejectionOf(sqs.send(new DeleteMessageBatchCommand({ QueueUrl: work, Entries: [] })));

    // Assess
    expect(repeated).toBeInstanceOf(BatchEntryIdsNotDistinct);
    expect(eleven).toBeInstanceOf(TooManyEntriesInBatchRequest);
    expect(empty).toBeInstanceOf(EmptyBatchRequest);
  });

  it('deletes and changes visibility in batches, failing only the entries with bad handles', async () => {
    // Prepare
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: work,
        Entries: [
          { Id: 'a', MessageBody: 'a' },
          { Id: 'b', MessageBody: 'b' },
        ],
      }),
    );
    const received = await receiveAll(work);
    const [a, b] = received.sort((x, y) => (x.Body ?? '').localeCompare(y.Body ?? ''));

    // Act
    const changed = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: work,
        Entries: [
          { Id: 'b', ReceiptHandle: b?.ReceiptHandle, VisibilityTimeout: 0 },
          { Id: 'junk', ReceiptHandle: 'not-a-handle', VisibilityTimeout: 0 },
        ],
      }),
    );
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: work,
        Entries: [
          { Id: 'a', ReceiptHandle: a?.ReceiptHandle },
          { Id: 'junk', ReceiptHandle: 'not-a-handle' },
        ],
      }),
    );
    const left = await receiveAll(work);

    // Assess
    expect(changed.Successful?.map((entry) => entry.Id)).toEqual(['b']);
    expect(changed.Failed?.map((entry) => [entry.Id, entry.Code])).toEqual([
      ['junk', 'ReceiptHandleIsInvalid'],
    ]);
    expect(deleted.Successful?.map((entry) => entry.Id)).toEqual(['a']);
    expect(deleted.Failed?.map((entry) => [entry.Id, entry.Code])).toEqual([
      ['junk', 'ReceiptHandleIsInvalid'],
    ]);
    expect(left.map((message) => message.Body)).toEqual(['b']);
  });

  it('refuses a MaxNumberOfMessages above 10', async () => {
    // Act
    const error = await rejectionOf(
      sqs.send(new ReceiveMessageCommand({ QueueUrl: work, MaxNumberOfMessages: 11 })),
    );

    // Assess
    expect((error as SQSServiceException).name).toBe('InvalidParameterValue');
  });

  it('carries message attributes with their MD5 when asked for them', async () => {
    // Prepare
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl: work,
        MessageBody: 'with attributes',
        MessageAttributes: {
          source: { DataType: 'String', StringValue: 'backfill' },
          attempt: { DataType: 'Number', StringValue: '3' },
        },
      }),
    );

    // Act
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: work, MessageAttributeNames: ['All'] }),
    );

    // Assess
    expect(Messages?.[0]?.MessageAttributes).toEqual({
      source: { DataType: 'String', StringValue: 'backfill' },
      attempt: { DataType: 'Number', StringValue: '3' },
    });
    expect(Messages?.[0]?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
  });

  it('purges a queue and refuses a second purge within 60 seconds', async () => {
    // Prepare
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'x' }));

    // Act
    await sqs.send(new PurgeQueueCommand({ QueueUrl: work }));
    const second = await rejectionOf(sqs.send(new PurgeQueueCommand({ QueueUrl: work })));
    const left = await receiveAll(work);

    // Assess
    expect(left).toEqual([]);
    expect(second).toBeInstanceOf(PurgeQueueInProgress);
  });

  it('answers StartMessageMoveTask as an unknown operation', async () => {
    // Act
    const error = await rejectionOf(
      sqs.send(new StartMessageMoveTaskCommand({ SourceArn: emulator.queueArn('work-dlq') })),
    );

    // Assess
    expect((error as SQSServiceException).name).toBe('UnknownOperationException');
    expect((error as SQSServiceException).$metadata.httpStatusCode).toBe(400);
  });

  it('delivers a message twice, with the same MessageId, when the redelivery fault is on', async () => {
    // Prepare
    emulator.setFaults({ redeliverRate: 1, seed: 7 });
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'dup' }));

    // Act
    const first = await receiveAll(work);
    emulator.setFaults({});
    const second = await receiveAll(work);

    // Assess
    expect(first.map((message) => message.Body)).toEqual(['dup']);
    expect(second.map((message) => message.MessageId)).toEqual([first[0]?.MessageId]);
    expect(second[0]?.ReceiptHandle).not.toBe(first[0]?.ReceiptHandle);
  });

  it('delivers messages out of sent order when the reorder fault is on', async () => {
    // Prepare
    emulator.setFaults({ reorder: true, seed: 42 });
    const bodies = Array.from({ length: 10 }, (_, index) => `m${index}`);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: work,
        Entries: bodies.map((body) => ({ Id: body, MessageBody: body })),
      }),
    );

    // Act
    const received = (await receiveAll(work)).map((message) => message.Body);

    // Assess
    expect([...received].sort()).toEqual(bodies);
    expect(received).not.toEqual(bodies);
  });

  it('records each call by operation name', async () => {
    // Act
    await sqs.send(new SendMessageCommand({ QueueUrl: work, MessageBody: 'x' }));
    await receiveAll(work);

    // Assess
    expect(emulator.calls.map((call) => call.action)).toEqual(['SendMessage', 'ReceiveMessage']);
  });

  it('ends an open long poll with a dropped connection when the emulator closes', async () => {
    // Prepare
    const polling = sqs.send(new ReceiveMessageCommand({ QueueUrl: work, WaitTimeSeconds: 20 })).then(
      () => 'answered',
      (error: unknown) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    // Act
    await emulator.close();
    const outcome = await polling;

    // Assess
    expect(outcome).toBeInstanceOf(Error);
    emulator = await startSqsEmulator({ queues: [] });
  });
});
