/** What the emulator tests share: the SDK client settings for a local endpoint, and catching an expected failure. */

/**
 * Client settings for an emulator at `endpoint`: any credentials do, and one attempt, so a test sees each error the
 * emulator answers instead of the SDK's retries.
 */
export function localClientConfig(endpoint: string): {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly maxAttempts: number;
} {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  };
}

export { rejectionOf } from '../support/rejection.ts';
