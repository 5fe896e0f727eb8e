/** Reads the deployment's props from CDK context (`cdk.json`, or `cdk deploy -c name=value`). */
import type { Node } from 'constructs';
import { InvalidDeploymentPropsError, type SyncDeploymentProps } from './stack-settings.ts';

/** The context keys the app reads, each the prop of the same name. */
export const CONTEXT_KEYS = [
  'instanceName',
  'keyPrefix',
  'existingBucketName',
  'existingBucketKmsKeyArn',
  'alarmEmail',
  'memorySize',
  'timeoutSeconds',
  'maxConcurrency',
  'batchSize',
  'maxBatchingWindowSeconds',
  'receiptsEventBus',
  'ledgerReaderRoleArn',
] as const;

type StringKey =
  | 'instanceName'
  | 'keyPrefix'
  | 'existingBucketName'
  | 'existingBucketKmsKeyArn'
  | 'alarmEmail'
  | 'ledgerReaderRoleArn';
type NumberKey =
  | 'memorySize'
  | 'timeoutSeconds'
  | 'maxConcurrency'
  | 'batchSize'
  | 'maxBatchingWindowSeconds';

const STRING_KEYS: readonly StringKey[] = [
  'instanceName',
  'keyPrefix',
  'existingBucketName',
  'existingBucketKmsKeyArn',
  'alarmEmail',
  'ledgerReaderRoleArn',
];
const NUMBER_KEYS: readonly NumberKey[] = [
  'memorySize',
  'timeoutSeconds',
  'maxConcurrency',
  'batchSize',
  'maxBatchingWindowSeconds',
];

function isUnset(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
}

/**
 * Reads {@link CONTEXT_KEYS} from `node`'s context. `-c` passes every value as a string, `cdk.json` may hold
 * numbers: both are accepted; an empty string counts as unset (so `-c existingBucketName=` clears cdk.json's value).
 * @throws InvalidDeploymentPropsError when a numeric key holds something else than a number
 */
export function readDeploymentPropsFromContext(node: Node): SyncDeploymentProps {
  const problems: string[] = [];
  const props: { -readonly [K in keyof SyncDeploymentProps]: SyncDeploymentProps[K] } = {};
  for (const key of STRING_KEYS) {
    const value: unknown = node.tryGetContext(key);
    if (isUnset(value)) continue;
    if (typeof value === 'string') props[key] = value.trim();
    else problems.push(`context ${key} must be a string, got ${JSON.stringify(value)}`);
  }
  for (const key of NUMBER_KEYS) {
    const value: unknown = node.tryGetContext(key);
    if (isUnset(value)) continue;
    const parsed =
      typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
    if (Number.isFinite(parsed)) props[key] = parsed;
    else problems.push(`context ${key} must be a number, got ${JSON.stringify(value)}`);
  }
  // A bus name, or false (cdk.json) / 'false' (-c receiptsEventBus=false) to turn receipts off.
  const bus: unknown = node.tryGetContext('receiptsEventBus');
  if (bus === false || (typeof bus === 'string' && bus.trim().toLowerCase() === 'false')) {
    props.receiptsEventBus = false;
  } else if (typeof bus === 'string' && !isUnset(bus)) {
    props.receiptsEventBus = bus.trim();
  } else if (!isUnset(bus)) {
    problems.push(`context receiptsEventBus must be a bus name or ARN, or false, got ${JSON.stringify(bus)}`);
  }
  if (problems.length > 0) throw new InvalidDeploymentPropsError(problems);
  return props;
}
