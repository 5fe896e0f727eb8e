/**
 * The CLI's writes to the settings in SSM Parameter Store. Reads go through the function's own loader
 * (`loadRawSettings`), so the CLI sees exactly what the function sees.
 */
import {
  DeleteParameterCommand,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { normaliseSettingsPath } from '../lib/aws/settings-store.ts';

/** How one parameter is stored. */
export type ParameterStorage =
  | { readonly secure: false }
  | {
      readonly secure: true;
      /** The KMS key of the SecureString (the stack's `SettingsKmsKeyId`). */
      readonly kmsKeyId: string;
    };

/** The full SSM name of a setting: `/ticket-dropbox-sync/default/` + `dropbox/app-key`. */
export function parameterNameOf(settingsPath: string, name: string): string {
  return `${normaliseSettingsPath(settingsPath)}${name}`;
}

/** Writes one setting, replacing any earlier value (String, or SecureString under the given key). */
export async function putSetting(
  ssm: SSMClient,
  settingsPath: string,
  name: string,
  value: string,
  storage: ParameterStorage,
): Promise<void> {
  await ssm.send(
    new PutParameterCommand({
      Name: parameterNameOf(settingsPath, name),
      Value: value,
      Type: storage.secure ? 'SecureString' : 'String',
      KeyId: storage.secure ? storage.kmsKeyId : undefined,
      Overwrite: true,
    }),
  );
}

/** Deletes one setting. @returns false when it did not exist. */
export async function deleteSetting(ssm: SSMClient, settingsPath: string, name: string): Promise<boolean> {
  try {
    await ssm.send(new DeleteParameterCommand({ Name: parameterNameOf(settingsPath, name) }));
    return true;
  } catch (error) {
    if (
      error instanceof ParameterNotFound ||
      (error instanceof Error && error.name === 'ParameterNotFound')
    ) {
      return false;
    }
    throw error;
  }
}
