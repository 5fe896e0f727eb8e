/**
 * The {@link FlowSwitch} on AWS: the sync function's SQS event source mapping, enabled or disabled with
 * `UpdateEventSourceMapping` (the role may call it on that one mapping's ARN only). Disabled, Lambda stops polling
 * the queue and the messages wait there.
 *
 * The sync function cannot get the mapping's id through its own environment (the mapping depends on the function, so
 * CloudFormation would see a cycle): it reads it from an SSM parameter the stack writes
 * (`EVENT_SOURCE_MAPPING_PARAMETER`), once per instance. The probe and the CLI get the id directly.
 *
 * The Lambda SDK is loaded on first use only: the function needs it on the failure path alone.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import type { FlowSwitch } from '../breaker.ts';
import { withRetry } from '../retry.ts';
import { type AwsClientOptions, awsClientConfig } from './clients.ts';

/** Where the mapping's id comes from. */
export type MappingIdSource =
  | { readonly id: string }
  | { readonly parameterName: string; readonly ssm: SSMClient };

/** Options of {@link createLambdaFlowSwitch}. */
export interface LambdaFlowSwitchOptions extends AwsClientOptions {
  readonly mapping: MappingIdSource;
}

/**
 * Lambda answers `ResourceInUseException` while the mapping is still applying another change (`Disabling`,
 * `Enabling`, `Updating`): the call is tried again after a short wait.
 */
const IN_USE = 'ResourceInUseException';

/** The event source mapping as a flow switch. */
export function createLambdaFlowSwitch(options: LambdaFlowSwitchOptions): FlowSwitch {
  let mappingId: Promise<string> | undefined;
  let client: Promise<import('@aws-sdk/client-lambda').LambdaClient> | undefined;
  const resolveId = (signal: AbortSignal | undefined): Promise<string> => {
    const { mapping } = options;
    if ('id' in mapping) return Promise.resolve(mapping.id);
    mappingId ??= mapping.ssm
      .send(new GetParameterCommand({ Name: mapping.parameterName }), { abortSignal: signal })
      .then((result) => {
        const value = result.Parameter?.Value;
        if (value === undefined || value === '')
          throw new Error(`${mapping.parameterName} holds no mapping id`);
        return value;
      })
      .catch((error: unknown) => {
        mappingId = undefined;
        throw error;
      });
    return mappingId;
  };
  const lambda = () => {
    client ??= import('@aws-sdk/client-lambda').then(
      ({ LambdaClient }) => new LambdaClient(awsClientConfig('AWS_ENDPOINT_URL_LAMBDA', options)),
    );
    return client;
  };
  return {
    async setEnabled(enabled, _note, signal) {
      const uuid = await resolveId(signal);
      const { UpdateEventSourceMappingCommand } = await import('@aws-sdk/client-lambda');
      const sdk = await lambda();
      const updated = await withRetry(
        () =>
          sdk.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: enabled }), {
            abortSignal: signal,
          }),
        {
          maxAttempts: 5,
          baseMs: 500,
          capMs: 5000,
          signal,
          // Throttling and 5xx are retried by the SDK itself.
          classify: (error) => ({ retry: error instanceof Error && error.name === IN_USE }),
        },
      );
      return updated.State;
    },
  };
}
