/**
 * What a deployment costs, from the bench's own measurements: Lambda GB-seconds (the function's memory times the
 * time its handler ran) per GiB exported and per 1,000 small files, priced with the stack's defaults, plus the
 * request charges of S3, SQS and DynamoDB that the same work made. The local stack's durations stand in for
 * Lambda's: a function on Lambda runs on other hardware (arm64, CPU in proportion to its memory), so the GB-seconds
 * are an estimate of the order of magnitude, while the request counts are exact.
 */
import { DEPLOYMENT_DEFAULTS, ephemeralStorageFor } from '../../infra/stack-settings.ts';
import { round } from './context.ts';

/**
 * Published prices, US East (N. Virginia), on-demand, first tier, as read on 29 November 2026:
 * - Lambda, https://aws.amazon.com/lambda/pricing/ : Arm duration $0.0000133334 per GB-second; requests $0.20 per
 *   million; ephemeral storage above the included 512 MB $0.0000000309 per GB-second;
 * - S3 Standard, https://aws.amazon.com/s3/pricing/ : GET, HEAD and other reads $0.0004 per 1,000 requests; PUT,
 *   COPY, POST, LIST $0.005 per 1,000;
 * - SQS standard queues, https://aws.amazon.com/sqs/pricing/ : $0.40 per million requests (each 64 KB of payload a
 *   request; the notifications are far smaller);
 * - DynamoDB on-demand, https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.625 per million write request units,
 *   $0.125 per million read request units (the ledger's items are under 1 KB: one unit per call).
 * Free tiers are left out: a deployment's budget should not depend on them.
 */
export const PRICES = {
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  ephemeralGbSecond: 0.0000000309,
  s3Read: 0.0004 / 1000,
  s3List: 0.005 / 1000,
  sqsRequest: 0.4 / 1e6,
  dynamodbWrite: 0.625 / 1e6,
  dynamodbRead: 0.125 / 1e6,
} as const;

/** The stack's defaults that the price depends on. */
export const PRICED_DEFAULTS = {
  memoryMiB: DEPLOYMENT_DEFAULTS.memorySize,
  ephemeralStorageMiB: ephemeralStorageFor(
    DEPLOYMENT_DEFAULTS.uploadPieceStore,
    DEPLOYMENT_DEFAULTS.uploadChunkMiB,
    DEPLOYMENT_DEFAULTS.uploadChunksInFlight,
  ),
} as const;

const S3_LIST_ACTIONS = new Set(['ListObjectVersions', 'ListObjectsV2', 'ListObjects']);
const DYNAMODB_READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);

/** Lambda's share of some work: its GB-seconds and their price (duration, requests, extra ephemeral storage). */
export interface LambdaCost {
  readonly gbSeconds: number;
  readonly invocations: number;
  readonly usd: number;
}

/** Lambda's price for `seconds` of handler time over `invocations` invocations, at the stack's defaults. */
export function lambdaCost(seconds: number, invocations: number): LambdaCost {
  const gbSeconds = (PRICED_DEFAULTS.memoryMiB / 1024) * seconds;
  const extraStorageGb = Math.max(0, PRICED_DEFAULTS.ephemeralStorageMiB - 512) / 1024;
  const usd =
    gbSeconds * PRICES.lambdaArmGbSecond +
    invocations * PRICES.lambdaRequest +
    extraStorageGb * seconds * PRICES.ephemeralGbSecond;
  return { gbSeconds: round(gbSeconds, 3), invocations, usd };
}

/** The request charges of some calls, by service, in USD. */
export interface RequestCosts {
  readonly s3: number;
  readonly sqs: number;
  readonly dynamodb: number;
}

/** Prices S3, SQS and DynamoDB calls counted by action. */
export function requestCosts(
  s3: Readonly<Record<string, number>>,
  sqs: Readonly<Record<string, number>>,
  dynamodb: Readonly<Record<string, number>>,
): RequestCosts {
  const sum = (counts: Readonly<Record<string, number>>, price: (action: string) => number) =>
    Object.entries(counts).reduce((total, [action, count]) => total + count * price(action), 0);
  return {
    s3: sum(s3, (action) => (S3_LIST_ACTIONS.has(action) ? PRICES.s3List : PRICES.s3Read)),
    sqs: sum(sqs, () => PRICES.sqsRequest),
    dynamodb: sum(dynamodb, (action) =>
      DYNAMODB_READS.has(action) ? PRICES.dynamodbRead : PRICES.dynamodbWrite,
    ),
  };
}

/** USD rounded for a table: six significant digits at most. */
export function usd(value: number): number {
  return Number(value.toPrecision(6));
}
