/**
 * Settings from SSM Parameter Store: every parameter under the instance path, decrypted, as the flat map the
 * settings schema reads. One loader serves the function (cached with a TTL), the CLI and the local stack.
 */
import { GetParametersByPathCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { SyncError } from '../errors.ts';
import { parseSettings, type RawSettings, type Settings } from '../settings.ts';
import { raceSignal } from '../signals.ts';

/** Normalises an instance path to `/a/b/` form. */
export function normaliseSettingsPath(path: string): string {
  const trimmed = path.trim().replace(/\/+$/, '');
  return `${trimmed.startsWith('/') ? '' : '/'}${trimmed}/`;
}

/**
 * Reads every parameter under `path` (recursive, decrypted, all pages) into a map of names relative to it:
 * `/ticket-dropbox-sync/default/dropbox/app-key` → `dropbox/app-key`.
 */
export async function loadRawSettings(
  ssm: SSMClient,
  path: string,
  signal?: AbortSignal,
): Promise<RawSettings> {
  const base = normaliseSettingsPath(path);
  const raw: Record<string, string> = {};
  let nextToken: string | undefined;
  do {
    const page = await ssm.send(
      new GetParametersByPathCommand({
        Path: base.slice(0, -1),
        Recursive: true,
        WithDecryption: true,
        MaxResults: 10,
        NextToken: nextToken,
      }),
      { abortSignal: signal },
    );
    for (const parameter of page.Parameters ?? []) {
      if (parameter.Name?.startsWith(base) && parameter.Value !== undefined) {
        raw[parameter.Name.slice(base.length)] = parameter.Value;
      }
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return raw;
}

/** Options of {@link createSettingsLoader}. */
export interface SettingsLoaderOptions {
  readonly ssm: SSMClient;
  readonly path: string;
  /** How long a read stays fresh. */
  readonly ttlMs: number;
  readonly now?: () => number;
}

/** Loads settings at most once per TTL; concurrent callers share one read. */
export interface SettingsLoader {
  /**
   * The settings, read at most once per TTL. Concurrent callers share one read, bounded by the SSM client's own
   * timeouts; each caller stops waiting when its `signal` (its invocation's deadline) aborts.
   */
  load(signal?: AbortSignal): Promise<Settings>;
  /** How many times SSM was read (for logs and tests). */
  readonly reads: number;
}

/**
 * A cached settings loader. The raw parameters are cached, not the parse, so an invalid value fails every record
 * with the same named error until an admin fixes it, and the fix is picked up within one TTL.
 */
export function createSettingsLoader(options: SettingsLoaderOptions): SettingsLoader {
  const now = options.now ?? Date.now;
  let cached: { readonly at: number; readonly raw: Promise<RawSettings> } | undefined;
  let reads = 0;
  const fetchRaw = async (): Promise<RawSettings> => {
    reads += 1;
    try {
      return await loadRawSettings(options.ssm, options.path);
    } catch (error) {
      cached = undefined;
      throw new SyncError(
        `Could not read the settings under ${normaliseSettingsPath(options.path)} from SSM`,
        {
          kind: 'transient',
          code: 'settings-unreadable',
          cause: error,
        },
      );
    }
  };
  return {
    get reads() {
      return reads;
    },
    async load(signal) {
      signal?.throwIfAborted();
      if (!cached || now() - cached.at >= options.ttlMs) {
        cached = { at: now(), raw: fetchRaw() };
      }
      return parseSettings(await raceSignal(cached.raw, signal));
    },
  };
}
