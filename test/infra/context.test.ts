import { App } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { readDeploymentPropsFromContext } from '../../infra/context.ts';
import { InvalidDeploymentPropsError } from '../../infra/stack-settings.ts';

describe('readDeploymentPropsFromContext', () => {
  it('reads strings as given and numbers from the strings `-c` passes', () => {
    // Prepare
    const app = new App({
      context: {
        instanceName: 'acme',
        keyPrefix: 'incoming/',
        existingBucketName: 'acme-files',
        alarmEmail: 'ops@acme.example',
        memorySize: '2048',
        timeoutSeconds: 120,
        maxConcurrency: '3',
        batchSize: '20',
        maxBatchingWindowSeconds: '2',
      },
    });

    // Act
    const props = readDeploymentPropsFromContext(app.node);

    // Assess
    expect(props).toEqual({
      instanceName: 'acme',
      keyPrefix: 'incoming/',
      existingBucketName: 'acme-files',
      alarmEmail: 'ops@acme.example',
      memorySize: 2048,
      timeoutSeconds: 120,
      maxConcurrency: 3,
      batchSize: 20,
      maxBatchingWindowSeconds: 2,
    });
  });

  it('leaves a key unset when its value is empty, so `-c existingBucketName=` clears it', () => {
    // Prepare
    const app = new App({ context: { existingBucketName: '', memorySize: ' ' } });

    // Act
    const props = readDeploymentPropsFromContext(app.node);

    // Assess
    expect(props).toEqual({});
  });

  it('rejects a numeric key that holds no number, naming the key and the value', () => {
    // Prepare
    const app = new App({ context: { timeoutSeconds: 'five minutes', instanceName: 42 } });

    // Act
    const act = () => readDeploymentPropsFromContext(app.node);

    // Assess
    expect(act).toThrow(
      new InvalidDeploymentPropsError([
        'context instanceName must be a string, got 42',
        'context timeoutSeconds must be a number, got "five minutes"',
      ]),
    );
  });
});
