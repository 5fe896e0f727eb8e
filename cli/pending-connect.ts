/**
 * A `connect` that was started and not finished: its PKCE code verifier, kept so that `connect --code CODE` can
 * finish it in a later run. The code Dropbox shows is bound to the challenge of the URL it came from, so the
 * verifier must outlive the process that printed the URL. Stored in the user's state folder, readable by the
 * user alone, and deleted once used.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** A started authorisation. */
export interface PendingConnect {
  readonly appKey: string;
  readonly codeVerifier: string;
  /** ISO 8601. */
  readonly createdAt: string;
}

const pendingSchema = z.object({
  appKey: z.string().min(1),
  codeVerifier: z.string().min(1),
  createdAt: z.string().min(1),
});

/** Older than this, a pending authorisation is ignored: Dropbox's codes do not live that long. */
const MAX_AGE_MS = 60 * 60 * 1000;

/** `$XDG_STATE_HOME/ticket-dropbox-sync`, else `~/.local/state/ticket-dropbox-sync`. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  const base = env.XDG_STATE_HOME?.trim()
    ? env.XDG_STATE_HOME
    : join(env.HOME?.trim() ? env.HOME : homedir(), '.local', 'state');
  return join(base, 'ticket-dropbox-sync');
}

function fileFor(env: NodeJS.ProcessEnv, deploymentId: string): string {
  const id = createHash('sha256').update(deploymentId).digest('hex').slice(0, 16);
  return join(stateDir(env), `connect-${id}.json`);
}

/** Keeps a started authorisation for the deployment `deploymentId`. */
export async function savePendingConnect(
  env: NodeJS.ProcessEnv,
  deploymentId: string,
  pending: PendingConnect,
): Promise<void> {
  await mkdir(stateDir(env), { recursive: true, mode: 0o700 });
  await writeFile(fileFor(env, deploymentId), `${JSON.stringify(pending)}\n`, { mode: 0o600 });
}

/** The started authorisation of the deployment, or `null` when there is none (or it is too old). */
export async function loadPendingConnect(
  env: NodeJS.ProcessEnv,
  deploymentId: string,
  now: Date = new Date(),
): Promise<PendingConnect | null> {
  let text: string;
  try {
    text = await readFile(fileFor(env, deploymentId), 'utf8');
  } catch (error) {
    if (error instanceof Error && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    if (error instanceof SyntaxError) return null;
    throw error;
  }
  const parsed = pendingSchema.safeParse(json);
  if (!parsed.success) return null;
  const age = now.getTime() - Date.parse(parsed.data.createdAt);
  return Number.isNaN(age) || age > MAX_AGE_MS ? null : parsed.data;
}

/** Forgets the started authorisation of the deployment. */
export async function clearPendingConnect(env: NodeJS.ProcessEnv, deploymentId: string): Promise<void> {
  await rm(fileFor(env, deploymentId), { force: true });
}
