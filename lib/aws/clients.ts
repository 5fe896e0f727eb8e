/**
 * AWS SDK clients, configured the same way for the function, the CLI and the local stack. Endpoints come from the
 * SDK's standard variables (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL_SSM`, `AWS_ENDPOINT_URL_SQS`, `AWS_ENDPOINT_URL`),
 * read from `options.env` so that an embedded local stack can pass its own; unset, the SDK resolves AWS's endpoints.
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';

/** Options shared by the client factories. */
export interface AwsClientOptions {
  readonly region?: string | undefined;
  /** The environment to read custom endpoints from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * An S3 client. With a custom endpoint (an S3-compatible server such as the local stack's s3rver) it uses path-style
 * addressing and sends checksums only where S3 requires them: s3rver stores a streamed body sent with the SDK's
 * default flexible checksums (aws-chunked encoding) corrupted.
 */
export function createS3Client(options: AwsClientOptions = {}): S3Client {
  const env = options.env ?? process.env;
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const config: S3ClientConfig = { region: options.region };
  if (endpoint) {
    Object.assign(config, {
      endpoint,
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    } satisfies S3ClientConfig);
  }
  return new S3Client(config);
}

/** An SSM client. */
export function createSsmClient(options: AwsClientOptions = {}): SSMClient {
  const env = options.env ?? process.env;
  return new SSMClient({
    region: options.region,
    endpoint: env.AWS_ENDPOINT_URL_SSM ?? env.AWS_ENDPOINT_URL,
  });
}

/** An SQS client. */
export function createSqsClient(options: AwsClientOptions = {}): SQSClient {
  const env = options.env ?? process.env;
  return new SQSClient({
    region: options.region,
    endpoint: env.AWS_ENDPOINT_URL_SQS ?? env.AWS_ENDPOINT_URL,
  });
}
