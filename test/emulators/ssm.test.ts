import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteParameterCommand,
  DeleteParametersCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  GetParametersCommand,
  HierarchyLevelLimitExceededException,
  InvalidNextToken,
  ParameterAlreadyExists,
  ParameterNotFound,
  ParameterVersionNotFound,
  PutParameterCommand,
  paginateGetParametersByPath,
  SSMClient,
  SSMServiceException,
  ValidationException,
} from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SsmEmulator, startSsmEmulator } from '../../tools/emulators/ssm/server.ts';
import { localClientConfig, rejectionOf } from './support.ts';

function clientFor(emulator: SsmEmulator): SSMClient {
  return new SSMClient(localClientConfig(emulator.url));
}

describe('SSM emulator', () => {
  let directory: string;
  let emulator: SsmEmulator;
  let ssm: SSMClient;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'ssm-emulator-'));
    emulator = await startSsmEmulator({ file: join(directory, 'ssm.json') });
    ssm = clientFor(emulator);
  });

  afterEach(async () => {
    ssm.destroy();
    await emulator.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('returns a String parameter with its version, ARN and date when it was put', async () => {
    // Prepare
    const put = await ssm.send(new PutParameterCommand({ Name: '/app/a', Value: 'one', Type: 'String' }));

    // Act
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: '/app/a' }));

    // Assess
    expect(put).toMatchObject({ Version: 1, Tier: 'Standard' });
    expect(Parameter).toMatchObject({
      Name: '/app/a',
      Type: 'String',
      Value: 'one',
      Version: 1,
      ARN: 'arn:aws:ssm:us-east-1:000000000000:parameter/app/a',
      DataType: 'text',
    });
    expect(Parameter?.LastModifiedDate).toBeInstanceOf(Date);
  });

  it('hides a SecureString value unless WithDecryption is true', async () => {
    // Prepare
    await ssm.send(
      new PutParameterCommand({ Name: '/app/secret', Value: 's3cr3t-token', Type: 'SecureString' }),
    );

    // Act
    const hidden = await ssm.send(new GetParameterCommand({ Name: '/app/secret' }));
    const shown = await ssm.send(new GetParameterCommand({ Name: '/app/secret', WithDecryption: true }));
    const byPath = await ssm.send(new GetParametersByPathCommand({ Path: '/app' }));

    // Assess
    expect(hidden.Parameter?.Value).not.toContain('s3cr3t-token');
    expect(hidden.Parameter?.Value).toMatch(/^AQICAH[A-Za-z0-9+/]+=*$/);
    expect(shown.Parameter?.Value).toBe('s3cr3t-token');
    expect(byPath.Parameters?.[0]?.Value).not.toContain('s3cr3t-token');
  });

  it('refuses to replace an existing parameter without Overwrite, and counts versions with it', async () => {
    // Prepare
    await ssm.send(new PutParameterCommand({ Name: '/app/mode', Value: 'a', Type: 'String' }));

    // Act
    const refused = await rejectionOf(
      ssm.send(new PutParameterCommand({ Name: '/app/mode', Value: 'b', Type: 'String' })),
    );
    const second = await ssm.send(
      new PutParameterCommand({ Name: '/app/mode', Value: 'b', Overwrite: true }),
    );
    const third = await ssm.send(new PutParameterCommand({ Name: '/app/mode', Value: 'c', Overwrite: true }));
    const first = await ssm.send(new GetParameterCommand({ Name: '/app/mode:1' }));

    // Assess
    expect(refused).toBeInstanceOf(ParameterAlreadyExists);
    expect((refused as ParameterAlreadyExists).$metadata.httpStatusCode).toBe(400);
    expect(second.Version).toBe(2);
    expect(third.Version).toBe(3);
    expect(first.Parameter).toMatchObject({ Value: 'a', Version: 1, Selector: ':1' });
  });

  it('keeps StringList values as the comma-separated string AWS returns', async () => {
    // Prepare
    await ssm.send(new PutParameterCommand({ Name: '/app/list', Value: 'a,b,c', Type: 'StringList' }));

    // Act
    const { Parameter } = await ssm.send(new GetParameterCommand({ Name: '/app/list' }));

    // Assess
    expect(Parameter).toMatchObject({ Type: 'StringList', Value: 'a,b,c' });
  });

  it('throws ParameterNotFound for a missing parameter, and ParameterVersionNotFound for a missing version', async () => {
    // Prepare
    await ssm.send(new PutParameterCommand({ Name: '/app/x', Value: '1', Type: 'String' }));

    // Act
    const missing = await rejectionOf(ssm.send(new GetParameterCommand({ Name: '/app/none' })));
    const noVersion = await rejectionOf(ssm.send(new GetParameterCommand({ Name: '/app/x:7' })));

    // Assess
    expect(missing).toBeInstanceOf(ParameterNotFound);
    expect(noVersion).toBeInstanceOf(ParameterVersionNotFound);
  });

  it('returns found parameters and lists the missing ones as InvalidParameters in GetParameters', async () => {
    // Prepare
    await ssm.send(new PutParameterCommand({ Name: '/app/one', Value: '1', Type: 'String' }));
    await ssm.send(new PutParameterCommand({ Name: '/app/two', Value: '2', Type: 'SecureString' }));

    // Act
    const result = await ssm.send(
      new GetParametersCommand({ Names: ['/app/one', '/app/two', '/app/three'], WithDecryption: true }),
    );

    // Assess
    expect(result.Parameters?.map((parameter) => [parameter.Name, parameter.Value])).toEqual([
      ['/app/one', '1'],
      ['/app/two', '2'],
    ]);
    expect(result.InvalidParameters).toEqual(['/app/three']);
  });

  it('lists direct children without Recursive and the whole subtree with it', async () => {
    // Prepare
    for (const name of [
      '/tds/prod/a',
      '/tds/prod/dropbox/app-key',
      '/tds/prod/dropbox/refresh-token',
      '/tds/dev/a',
    ]) {
      await ssm.send(new PutParameterCommand({ Name: name, Value: name, Type: 'String' }));
    }

    // Act
    const direct = await ssm.send(new GetParametersByPathCommand({ Path: '/tds/prod' }));
    const subtree = await ssm.send(new GetParametersByPathCommand({ Path: '/tds/prod/', Recursive: true }));

    // Assess
    expect(direct.Parameters?.map((parameter) => parameter.Name)).toEqual(['/tds/prod/a']);
    expect(subtree.Parameters?.map((parameter) => parameter.Name)).toEqual([
      '/tds/prod/a',
      '/tds/prod/dropbox/app-key',
      '/tds/prod/dropbox/refresh-token',
    ]);
  });

  it('pages GetParametersByPath with NextToken until every parameter was returned once', async () => {
    // Prepare
    const names = Array.from({ length: 23 }, (_, index) => `/paged/p${String(index).padStart(2, '0')}`);
    for (const name of names)
      await ssm.send(new PutParameterCommand({ Name: name, Value: 'v', Type: 'String' }));

    // Act
    const seen: string[] = [];
    let pages = 0;
    for await (const page of paginateGetParametersByPath(
      { client: ssm },
      { Path: '/paged', Recursive: true, MaxResults: 10 },
    )) {
      pages += 1;
      seen.push(...(page.Parameters ?? []).map((parameter) => parameter.Name ?? ''));
    }

    // Assess
    expect(pages).toBe(3);
    expect(seen).toEqual(names);
  });

  it('rejects MaxResults above 10 and a forged NextToken with the errors AWS answers', async () => {
    // Act
    const tooMany = await rejectionOf(
      ssm.send(new GetParametersByPathCommand({ Path: '/app', MaxResults: 11 })),
    );
    const forged = await rejectionOf(
      ssm.send(new GetParametersByPathCommand({ Path: '/app', NextToken: 'not-a-token' })),
    );

    // Assess
    expect(tooMany).toBeInstanceOf(ValidationException);
    expect((tooMany as ValidationException).message).toContain("at 'maxResults'");
    expect(forged).toBeInstanceOf(InvalidNextToken);
  });

  it('rejects names and paths that break the naming rules', async () => {
    // Act
    const noSlashPath = await rejectionOf(ssm.send(new GetParametersByPathCommand({ Path: 'app' })));
    const reserved = await rejectionOf(
      ssm.send(new PutParameterCommand({ Name: '/aws/mine', Value: 'v', Type: 'String' })),
    );
    const badCharacter = await rejectionOf(
      ssm.send(new PutParameterCommand({ Name: '/app/with space', Value: 'v', Type: 'String' })),
    );
    const relativeHierarchy = await rejectionOf(
      ssm.send(new PutParameterCommand({ Name: 'app/x', Value: 'v', Type: 'String' })),
    );
    const deep = await rejectionOf(
      ssm.send(
        new PutParameterCommand({
          Name: `/${Array.from({ length: 16 }, (_, index) => `l${index}`).join('/')}`,
          Value: 'v',
          Type: 'String',
        }),
      ),
    );
    const fifteen = await ssm.send(
      new PutParameterCommand({
        Name: `/${Array.from({ length: 15 }, (_, index) => `l${index}`).join('/')}`,
        Value: 'v',
        Type: 'String',
      }),
    );

    // Assess
    expect(noSlashPath).toBeInstanceOf(ValidationException);
    expect(reserved).toBeInstanceOf(ValidationException);
    expect(badCharacter).toBeInstanceOf(ValidationException);
    expect(relativeHierarchy).toBeInstanceOf(ValidationException);
    expect(deep).toBeInstanceOf(HierarchyLevelLimitExceededException);
    expect(fifteen.Version).toBe(1);
  });

  it('deletes one parameter, then reports a second delete as ParameterNotFound', async () => {
    // Prepare
    await ssm.send(new PutParameterCommand({ Name: '/app/gone', Value: 'v', Type: 'String' }));

    // Act
    await ssm.send(new DeleteParameterCommand({ Name: '/app/gone' }));
    const again = await rejectionOf(ssm.send(new DeleteParameterCommand({ Name: '/app/gone' })));

    // Assess
    expect(again).toBeInstanceOf(ParameterNotFound);
  });

  it('deletes several parameters and names the ones that did not exist', async () => {
    // Prepare
    await ssm.send(new PutParameterCommand({ Name: '/app/d1', Value: 'v', Type: 'String' }));
    await ssm.send(new PutParameterCommand({ Name: '/app/d2', Value: 'v', Type: 'String' }));

    // Act
    const result = await ssm.send(new DeleteParametersCommand({ Names: ['/app/d1', '/app/d2', '/app/d3'] }));
    const left = await ssm.send(new GetParametersByPathCommand({ Path: '/app' }));

    // Assess
    expect(result.DeletedParameters).toEqual(['/app/d1', '/app/d2']);
    expect(result.InvalidParameters).toEqual(['/app/d3']);
    expect(left.Parameters).toEqual([]);
  });

  it('answers an operation it does not implement with the unknown-operation error', async () => {
    // Act
    const response = await fetch(emulator.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonSSM.DescribeDocument' },
      body: '{}',
    });

    // Assess
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      __type: 'com.amazon.coral.service#UnknownOperationException',
    });
  });

  it('keeps parameters across a restart on the same file', async () => {
    // Prepare
    await ssm.send(new PutParameterCommand({ Name: '/keep/plain', Value: 'p', Type: 'String' }));
    await ssm.send(new PutParameterCommand({ Name: '/keep/secret', Value: 'hidden', Type: 'SecureString' }));
    await ssm.send(new PutParameterCommand({ Name: '/keep/plain', Value: 'q', Overwrite: true }));
    ssm.destroy();
    await emulator.close();

    // Act
    emulator = await startSsmEmulator({ file: join(directory, 'ssm.json') });
    ssm = clientFor(emulator);
    const { Parameters } = await ssm.send(
      new GetParametersByPathCommand({ Path: '/keep', WithDecryption: true }),
    );
    const stored = JSON.parse(await readFile(join(directory, 'ssm.json'), 'utf8')) as { format: number };

    // Assess
    expect(Parameters?.map((parameter) => [parameter.Name, parameter.Value, parameter.Version])).toEqual([
      ['/keep/plain', 'q', 2],
      ['/keep/secret', 'hidden', 1],
    ]);
    expect(stored.format).toBe(1);
  });

  it('records each call by operation name', async () => {
    // Act
    await ssm.send(new PutParameterCommand({ Name: '/log/a', Value: 'v', Type: 'String' }));
    await ssm.send(new GetParametersByPathCommand({ Path: '/log' }));
    await rejectionOf(ssm.send(new GetParameterCommand({ Name: '/log/none' })));

    // Assess
    expect(emulator.calls.map((call) => call.action)).toEqual([
      'PutParameter',
      'GetParametersByPath',
      'GetParameter',
    ]);
    expect(emulator.calls.every((call) => typeof call.at === 'number')).toBe(true);
  });

  it('maps every error to the SSM service exception base class', async () => {
    // Act
    const error = await rejectionOf(ssm.send(new GetParameterCommand({ Name: '/nothing/here' })));

    // Assess
    expect(error).toBeInstanceOf(SSMServiceException);
    expect((error as SSMServiceException).name).toBe('ParameterNotFound');
  });
});
