/**
 * SQS errors in the shape the service answers over AWS JSON 1.0: `{"__type": "com.amazonaws.sqs#Name",
 * "message": …}` plus the `x-amzn-query-error: Code;Sender` header that the SDK (in query-compatible mode) uses to
 * pick the modelled exception class, e.g. `AWS.SimpleQueueService.NonExistentQueue` → `QueueDoesNotExist`.
 */
import { AwsJsonError } from '../http.ts';

function sqsError(name: string, queryCode: string, message: string, status = 400): AwsJsonError {
  return new AwsJsonError(`com.amazonaws.sqs#${name}`, message, {
    status,
    queryError: `${queryCode};Sender`,
  });
}

/** The queue named by a URL or name does not exist. */
export function queueDoesNotExist(): AwsJsonError {
  return sqsError(
    'QueueDoesNotExist',
    'AWS.SimpleQueueService.NonExistentQueue',
    'The specified queue does not exist.',
  );
}

/** `CreateQueue` for an existing name with other attributes. */
export function queueNameExists(name: string): AwsJsonError {
  return sqsError(
    'QueueNameExists',
    'QueueAlreadyExists',
    `A queue already exists with the same name and a different value for attribute(s) of ${name}.`,
  );
}

/** A parameter outside its allowed values (not a modelled shape: the SDK names it `InvalidParameterValue`). */
export function invalidParameterValue(message: string): AwsJsonError {
  return sqsError('InvalidParameterValue', 'InvalidParameterValue', message);
}

/** A required parameter is missing. */
export function missingParameter(name: string): AwsJsonError {
  return sqsError('MissingParameter', 'MissingParameter', `The request must contain the parameter ${name}.`);
}

/** An attribute name the operation does not know. */
export function invalidAttributeName(name: string): AwsJsonError {
  return sqsError('InvalidAttributeName', 'InvalidAttributeName', `Unknown Attribute ${name}.`);
}

/** An attribute value outside its range. */
export function invalidAttributeValue(name: string): AwsJsonError {
  return sqsError(
    'InvalidAttributeValue',
    'InvalidAttributeValue',
    `Invalid value for the parameter ${name}.`,
  );
}

/** A receipt handle this queue never issued. */
export function receiptHandleIsInvalid(handle: string): AwsJsonError {
  return sqsError(
    'ReceiptHandleIsInvalid',
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${handle}" is not a valid receipt handle.`,
    404,
  );
}

/** A message body with characters SQS does not allow. */
export function invalidMessageContents(message: string): AwsJsonError {
  return sqsError('InvalidMessageContents', 'InvalidMessageContents', message);
}

/** A second `PurgeQueue` within 60 seconds. */
export function purgeQueueInProgress(name: string): AwsJsonError {
  return sqsError(
    'PurgeQueueInProgress',
    'AWS.SimpleQueueService.PurgeQueueInProgress',
    `Only one PurgeQueue operation on ${name} is allowed every 60 seconds.`,
    403,
  );
}

/** A batch request without entries. */
export function emptyBatchRequest(entryShape: string): AwsJsonError {
  return sqsError(
    'EmptyBatchRequest',
    'AWS.SimpleQueueService.EmptyBatchRequest',
    `There should be at least one ${entryShape} in the request.`,
  );
}

/** A batch request with more than 10 entries. */
export function tooManyEntriesInBatchRequest(count: number): AwsJsonError {
  return sqsError(
    'TooManyEntriesInBatchRequest',
    'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    `Maximum number of entries per request are 10. You have sent ${count}.`,
  );
}

/** Two batch entries with one id. */
export function batchEntryIdsNotDistinct(id: string): AwsJsonError {
  return sqsError(
    'BatchEntryIdsNotDistinct',
    'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
    `Id ${id} repeated.`,
  );
}

/** A batch entry id outside `[A-Za-z0-9_-]{1,80}`. */
export function invalidBatchEntryId(): AwsJsonError {
  return sqsError(
    'InvalidBatchEntryId',
    'AWS.SimpleQueueService.InvalidBatchEntryId',
    'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
  );
}

/** The messages of a `SendMessageBatch` together exceed the queue's maximum message size. */
export function batchRequestTooLong(limit: number): AwsJsonError {
  return sqsError(
    'BatchRequestTooLong',
    'AWS.SimpleQueueService.BatchRequestTooLong',
    `Batch requests cannot be longer than ${limit} bytes.`,
  );
}
