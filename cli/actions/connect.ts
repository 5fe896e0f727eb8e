/**
 * `connect` and `disconnect`: link the customer's Dropbox through OAuth 2 with PKCE and no redirect (the user
 * opens a URL, allows access, and pastes the code Dropbox shows), and unlink it again.
 *
 * The write check: Dropbox has no dry-run write, and the flow's scopes allow no delete, so `connect` proves that
 * it can write to the base folder by uploading a small marker file, `.ticket-dropbox-sync-check`, in overwrite
 * mode. Its content never changes, and Dropbox writes nothing for identical content, so connecting again adds
 * no revision; it is safe to delete.
 */
import { Readable } from 'node:stream';
import { loadRawSettings, normaliseSettingsPath } from '../../lib/aws/settings-store.ts';
import type { DropboxClient } from '../../lib/dropbox/client.ts';
import { isDropboxApiError } from '../../lib/dropbox/errors.ts';
import {
  buildAuthorizeUrl,
  createPkcePair,
  exchangeAuthorizationCode,
  REQUIRED_SCOPES,
} from '../../lib/dropbox/oauth.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { DropboxFile } from '../../lib/ports.ts';
import {
  type DropboxCredentials,
  InvalidSettingsError,
  type PathRootMode,
  parseRuleSettings,
  type RawSettings,
  validateSetting,
} from '../../lib/settings.ts';
import type { CommandContext } from '../context.ts';
import type { Deployment } from '../deployment.ts';
import { checkDropboxAccount, openDropbox } from '../dropbox.ts';
import { CliUsageError, CommandFailedError, EXIT_FAILED, EXIT_OK } from '../errors.ts';
import { releaseBreakerAfterFix } from '../flow.ts';
import { type CliIo, printJson, printLines, readLine, readSecretLine } from '../io.ts';
import { clearPendingConnect, loadPendingConnect, savePendingConnect } from '../pending-connect.ts';
import { deleteSetting, putSetting } from '../settings-store.ts';

/** The name of the marker file the write check uploads into the base folder. */
export const WRITE_CHECK_FILE_NAME = '.ticket-dropbox-sync-check';

const WRITE_CHECK_CONTENT = Buffer.from(
  'Written by `ticket-dropbox-sync connect` to check that the integration can write to this folder.\n' +
    'It is safe to delete.\n',
);

/** Options of `connect`. */
export interface ConnectOptions {
  readonly code?: string;
  readonly appKey?: string;
  /** The app secret, or `-` to read it from stdin. */
  readonly appSecret?: string;
  readonly kmsKeyId?: string;
  readonly printUrl?: boolean;
  readonly json?: boolean;
}

/** What the write check found. */
export type WriteCheck =
  | { readonly ok: true; readonly path: string }
  | { readonly ok: false; readonly path: string | null; readonly message: string };

/** A deployment's identity for the pending authorisation. */
function deploymentIdOf(deployment: Deployment): string {
  return `${deployment.kind}|${deployment.label}|${deployment.region ?? ''}|${deployment.outputs.settingsPath}`;
}

function pathRootOf(raw: RawSettings): PathRootMode {
  const value = raw['dropbox/path-root'];
  if (value === undefined || validateSetting('dropbox/path-root', value) !== null) return 'auto';
  return value.trim().toLowerCase() === 'home' ? 'home' : 'auto';
}

/** Uploads the marker file into the base folder. */
export async function checkWriteAccess(client: DropboxClient, raw: RawSettings): Promise<WriteCheck> {
  let baseFolder: string;
  try {
    baseFolder = parseRuleSettings(raw).baseFolder;
  } catch (error) {
    if (error instanceof InvalidSettingsError) {
      return {
        ok: false,
        path: null,
        message: `the rule settings are invalid, so the base folder is unknown (run \`config validate\`)`,
      };
    }
    throw error;
  }
  const path = `${baseFolder}/${WRITE_CHECK_FILE_NAME}`;
  try {
    const file: DropboxFile = await client.upload({
      path,
      size: WRITE_CHECK_CONTENT.byteLength,
      clientModified: new Date(),
      onConflict: 'overwrite',
      body: Readable.from([WRITE_CHECK_CONTENT]),
    });
    return { ok: true, path: file.pathDisplay };
  } catch (error) {
    // A DropboxApiError (no write permission, insufficient space) or a network failure: reported, not thrown.
    if (error instanceof Error) return { ok: false, path, message: errorMessage(error) };
    throw error;
  }
}

async function readCode(io: CliIo, json: boolean): Promise<string> {
  if (io.stdinIsTty) io.stderr.write('Code: ');
  const code = await readLine(io);
  if (code === null || code === '') {
    throw new CommandFailedError(
      `No code on stdin. Finish within the hour with: ticket-dropbox-sync connect --code CODE${json ? ' --json' : ''}`,
    );
  }
  return code;
}

async function obtainCode(
  context: CommandContext,
  deployment: Deployment,
  appKey: string,
  options: ConnectOptions,
): Promise<{ code: string; codeVerifier: string } | null> {
  const { io } = context;
  const deploymentId = deploymentIdOf(deployment);
  if (options.code !== undefined) {
    const pending = await loadPendingConnect(io.env, deploymentId);
    if (pending === null || pending.appKey !== appKey) {
      throw new CommandFailedError(
        `No authorisation of app ${appKey} was started for ${deployment.label} in the last hour: ` +
          'run `connect --print-url` (or `connect`), open the URL it prints, then pass the code Dropbox shows',
      );
    }
    return { code: options.code.trim(), codeVerifier: pending.codeVerifier };
  }
  const pair = createPkcePair();
  io.addSecret(pair.verifier);
  await savePendingConnect(io.env, deploymentId, {
    appKey,
    codeVerifier: pair.verifier,
    createdAt: new Date().toISOString(),
  });
  const url = buildAuthorizeUrl({
    appKey,
    codeChallenge: pair.challenge,
    scopes: REQUIRED_SCOPES,
    endpointUrl: deployment.dropboxEndpointUrl,
  });
  const lines = [
    `Connecting Dropbox for ${deployment.label}.`,
    '1. Open this URL, sign in to the Dropbox account the files go to, and allow access:',
    '',
    `   ${url}`,
    '',
    options.printUrl === true
      ? '2. Then run: ticket-dropbox-sync connect --code CODE (with the same --instance / --local / --local-dir) within the hour.'
      : '2. Paste the code Dropbox shows here.',
  ];
  // With --json, stdout carries the result alone.
  const out = options.json === true ? io.stderr : io.stdout;
  out.write(lines.map((line) => `${line}\n`).join(''));
  if (options.printUrl === true) return null;
  return { code: await readCode(io, options.json === true), codeVerifier: pair.verifier };
}

/** `connect`: the whole flow, or its first (`--print-url`) or second (`--code`) half. */
export async function connect(context: CommandContext, options: ConnectOptions): Promise<number> {
  const { io } = context;
  if (options.code !== undefined && options.printUrl === true) {
    throw new CliUsageError('--code and --print-url exclude each other');
  }
  // `-`: the secret is stdin's first line (before the code, when the code is pasted too), never in argv.
  const givenSecret =
    options.appSecret === '-' ? await readSecretLine(io, 'dropbox/app-secret') : options.appSecret;
  if (givenSecret !== undefined) io.addSecret(givenSecret);
  const deployment = await context.deployment();
  const clients = await context.clients();
  const settingsPath = normaliseSettingsPath(deployment.outputs.settingsPath);
  const raw = await loadRawSettings(clients.ssm, settingsPath);
  for (const name of ['dropbox/refresh-token', 'dropbox/app-secret']) {
    const value = raw[name];
    if (value !== undefined) io.addSecret(value);
  }
  const storedKey = raw['dropbox/app-key'];
  const appKey = options.appKey ?? storedKey;
  if (appKey === undefined || appKey.trim() === '') {
    throw new CliUsageError('no app key stored yet: pass --app-key KEY (App Console → your app → Settings)');
  }
  const kmsKeyId = options.kmsKeyId ?? deployment.outputs.settingsKmsKeyId;
  if (kmsKeyId === undefined) {
    throw new CommandFailedError(`${deployment.label} reports no SettingsKmsKeyId: pass --kms-key-id`);
  }

  const obtained = await obtainCode(context, deployment, appKey, options);
  if (obtained === null) return EXIT_OK;
  io.addSecret(obtained.code);
  const sameApp = appKey === storedKey;
  const appSecret = givenSecret ?? (sameApp ? raw['dropbox/app-secret'] : undefined);
  let refreshToken: string;
  try {
    const tokens = await exchangeAuthorizationCode({
      appKey,
      appSecret,
      code: obtained.code,
      codeVerifier: obtained.codeVerifier,
      endpointUrl: deployment.dropboxEndpointUrl,
    });
    refreshToken = tokens.refreshToken;
  } catch (error) {
    if (error instanceof Error) {
      throw new CommandFailedError(`Dropbox did not accept the code: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    throw error;
  }
  io.addSecret(refreshToken);
  await clearPendingConnect(io.env, deploymentIdOf(deployment));

  const credentials: DropboxCredentials = { appKey, refreshToken, appSecret, pathRoot: pathRootOf(raw) };
  const client = openDropbox(credentials, deployment);
  const account = await checkDropboxAccount(client, credentials);
  if (!account.ok) {
    throw new CommandFailedError(`The new token does not work (${account.message}); nothing was saved.`);
  }

  await putSetting(clients.ssm, settingsPath, 'dropbox/app-key', appKey, { secure: false });
  await putSetting(clients.ssm, settingsPath, 'dropbox/refresh-token', refreshToken, {
    secure: true,
    kmsKeyId,
  });
  if (givenSecret !== undefined) {
    await putSetting(clients.ssm, settingsPath, 'dropbox/app-secret', givenSecret, {
      secure: true,
      kmsKeyId,
    });
  } else if (!sameApp && raw['dropbox/app-secret'] !== undefined) {
    // The stored secret belongs to the previous app: kept, it would break every token refresh.
    await deleteSetting(clients.ssm, settingsPath, 'dropbox/app-secret');
  }

  const writeCheck = await checkWriteAccess(client, raw);
  // A new token fixes what a revoked one broke: the breaker's hold is lifted at once, not at the probe's next run.
  const released = await releaseBreakerAfterFix(deployment, clients, 'cli connect');
  const root = account.teamRootUsed ? 'the team space root' : 'the home folder';
  if (options.json === true) {
    printJson(io, {
      connected: true,
      account: {
        accountId: account.account.accountId,
        displayName: account.account.displayName,
        email: account.account.email,
      },
      teamRootUsed: account.teamRootUsed,
      pathRoot: credentials.pathRoot,
      settingsPath,
      writeCheck,
      breakerReleased: released !== undefined,
    });
  } else {
    const lines = [
      `Connected the Dropbox account ${account.account.displayName} <${account.account.email}>.`,
      `Files go to ${root} (dropbox/path-root ${credentials.pathRoot}${
        account.account.isTeamRoot && !account.teamRootUsed ? '; the account has a team space' : ''
      }).`,
      `Saved dropbox/app-key and dropbox/refresh-token (SecureString, KMS key ${kmsKeyId})${
        givenSecret === undefined ? '' : ' and dropbox/app-secret'
      } under ${settingsPath}.`,
      writeCheck.ok
        ? `Write check: wrote ${writeCheck.path} (a marker file; safe to delete).`
        : `Write check FAILED${writeCheck.path === null ? '' : ` for ${writeCheck.path}`}: ${writeCheck.message}`,
      ...(released === undefined ? [] : [released]),
    ];
    printLines(io, ...lines);
  }
  return writeCheck.ok ? EXIT_OK : EXIT_FAILED;
}

/** `disconnect`: revokes the token and removes it. */
export async function disconnect(
  context: CommandContext,
  options: { readonly force?: boolean },
): Promise<number> {
  const { io } = context;
  const deployment = await context.deployment();
  const clients = await context.clients();
  const settingsPath = normaliseSettingsPath(deployment.outputs.settingsPath);
  const raw = await loadRawSettings(clients.ssm, settingsPath);
  const appKey = raw['dropbox/app-key'];
  const refreshToken = raw['dropbox/refresh-token'];
  const appSecret = raw['dropbox/app-secret'];
  for (const secret of [refreshToken, appSecret]) {
    if (secret !== undefined) io.addSecret(secret);
  }
  if (refreshToken === undefined) {
    printLines(
      io,
      `Dropbox is not connected for ${deployment.label}: no dropbox/refresh-token under ${settingsPath}.`,
    );
    return EXIT_OK;
  }
  let revoked = 'Revoked the Dropbox token';
  if (appKey === undefined) {
    revoked = 'Could not revoke the token (no dropbox/app-key to refresh it with)';
  } else {
    try {
      await openDropbox({ appKey, refreshToken, appSecret, pathRoot: 'home' }, deployment).revokeToken();
    } catch (error) {
      // A token Dropbox no longer accepts is as good as revoked.
      const invalid = isDropboxApiError(error) && (error.code === 'dropbox-auth' || error.status === 400);
      if (!invalid && options.force !== true) {
        throw new CommandFailedError(
          `Could not revoke the token (${errorMessage(error)}); nothing was removed. ` +
            'Try again, or pass --force to remove it anyway and revoke it in Dropbox (Settings → Connected apps).',
          { cause: error },
        );
      }
      revoked = invalid
        ? 'The token was already invalid'
        : `Could not revoke the token (${errorMessage(error)}): revoke it in Dropbox (Settings → Connected apps)`;
    }
  }
  await deleteSetting(clients.ssm, settingsPath, 'dropbox/refresh-token');
  printLines(
    io,
    `${revoked}; removed dropbox/refresh-token under ${settingsPath}.`,
    'The function now fails every file until Dropbox is connected again; `pause` keeps them waiting in the queue.',
  );
  return EXIT_OK;
}
