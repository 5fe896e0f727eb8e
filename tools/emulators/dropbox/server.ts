/**
 * A Dropbox API emulator: one HTTP server that answers the routes the product calls, by the real API's rules and
 * in its shapes, over files kept on disk, with fault injection and a request log. Runnable alone
 * (`npm run emulator:dropbox -- --port P --root DIR`) and embeddable in tests ({@link startDropboxEmulator}).
 * See the README section "Dropbox API emulator".
 */
import { rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { type AuthorizedCall, EmulatorAuth } from './auth.ts';
import { type FaultDecision, FaultInjector, type FaultOptions, WriteLocks } from './faults.ts';
import {
  ConnectionGone,
  createBadRequest,
  createRouteError,
  formatErrorSummary,
  HttpReply,
  parseJson,
  type ReceivedUpload,
  receiveSmall,
  receiveUpload,
  sendReply,
} from './http.ts';
import { DROPBOX_TIMESTAMP } from './paths.ts';
import { type LookupProblem, type UploadSession, UploadSessions } from './sessions.ts';
import {
  type CommitOutcome,
  type CommitRequest,
  type CommitSource,
  DropboxStore,
  type Resolved,
} from './store.ts';

export { EMULATOR_CLIENT_CREDENTIALS, EMULATOR_CREDENTIALS } from './auth.ts';
export type { FaultOptions } from './faults.ts';

/** Options of {@link startDropboxEmulator}. */
export interface DropboxEmulatorOptions {
  /** @default 0 (an ephemeral port) */
  port?: number;
  /** Where the exported files (and the emulator's index) are kept. */
  root: string;
  /** The account has a team space root distinct from its home folder. @default false */
  team?: boolean;
  faults?: FaultOptions;
  /** @default 127.0.0.1 */
  host?: string;
  /** Lifetime of access tokens. @default 14400 (Dropbox's four hours) */
  accessTokenLifetimeSeconds?: number;
  /** Lifetime of upload sessions. @default 7 days (Dropbox's) */
  uploadSessionLifetimeMs?: number;
  /** Entries per `list_folder` page when the call sets no `limit`. @default 500 */
  listFolderPageSize?: number;
  /** Entries kept in {@link DropboxEmulator.requestLog} (oldest dropped first). @default 100000 */
  requestLogLimit?: number;
  /**
   * Keep the bytes of uploaded files. `false` is a store mode for throughput benchmarks: every body is still received
   * and hashed (each call's `content_hash` is checked, and a committed file's hash comes from its pieces' block
   * digests), but nothing is written to disk, so committed files have their metadata only. Sessions whose pieces do
   * not start on 4 MiB blocks cannot be finished in this mode. @default true
   */
  keepBytes?: boolean;
}

/** One request, as the emulator saw it. */
export interface RequestLogEntry {
  readonly id: number;
  readonly method: string;
  /** `files/upload`, `oauth2/token`, …; the raw path for unknown routes. */
  readonly route: string;
  /** Bytes of request body received. */
  bytesIn: number;
  /** The answer's status; 0 when the connection was reset or the client went away. */
  status: number;
  readonly startedAt: number;
  endedAt: number | undefined;
  /** The `Dropbox-API-Path-Root` header, when sent. */
  readonly pathRoot: string | undefined;
  /** The injected fault, if any. */
  fault: FaultDecision['kind'] | 'write-lock' | undefined;
  /** Dropbox's `error_summary` (or `error` of oauth2/token) of an error answer. */
  errorSummary: string | undefined;
  /** For a call that carries data: whether its `Dropbox-API-Arg` declared a `content_hash` for it. */
  contentHashDeclared?: boolean | undefined;
}

/** A running emulator. */
export interface DropboxEmulator {
  /** `http://127.0.0.1:PORT`: the value for `DROPBOX_ENDPOINT_URL`. */
  readonly url: string;
  readonly requestLog: RequestLogEntry[];
  close(): Promise<void>;
  setFaults(faults: FaultOptions): void;
  /** Every access and refresh token stops working (the person unlinked the app). */
  revokeAllTokens(): void;
  /** Writes fail with `insufficient_space` while on. */
  setInsufficientSpace(on: boolean): void;
  /** The account's root namespace changes: calls with the old `Dropbox-API-Path-Root` get `422 invalid_root`. */
  changeTeamRoot(): void;
  /** Every access token issued so far expires now (401 `expired_access_token`). */
  expireAccessTokens(): void;
  /** Every open upload session expires now (`not_found`). */
  expireUploadSessions(): void;
  /** The emulated account's root info (`root_namespace_id`, `home_namespace_id`, …). */
  rootInfo(): Record<string, unknown>;
  /**
   * A person moves a file in the Dropbox app (paths from the account's root, as the product sees them): it keeps its
   * id. Resolves with the moved file's metadata.
   */
  moveFile(fromPath: string, toPath: string): Promise<Record<string, unknown>>;
  /** A person deletes a file in the Dropbox app. */
  deleteFile(path: string): Promise<void>;
}

type Style = 'rpc' | 'upload';

interface RouteContext {
  readonly route: string;
  readonly call: AuthorizedCall;
  readonly pathRoot: string | undefined;
  readonly arg: Record<string, unknown>;
  readonly upload: ReceivedUpload | undefined;
  readonly log: RequestLogEntry;
}

interface RouteSpec {
  readonly style: Style;
  readonly scope?: string;
  readonly handle: (context: RouteContext) => Promise<unknown>;
}

/** The emulated account's quota (2 TiB, a Dropbox Plus plan), reported by `users/get_space_usage`. */
const EMULATED_QUOTA_BYTES = 2 * 1024 ** 4;

/** Dropbox's limit on the data of one request. */
export const MAX_REQUEST_BYTES = 150 * 1024 * 1024;
const RPC_BODY_LIMIT = 1024 * 1024;
const UPLOAD_CONTENT_TYPES = new Set(['application/octet-stream', 'text/plain; charset=dropbox-cors-hack']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Argument readers that answer 400 the way Dropbox does for a bad argument. */
class Args {
  readonly #route: string;
  readonly #where: string;
  readonly #arg: Record<string, unknown>;

  constructor(route: string, where: string, arg: Record<string, unknown>) {
    this.#route = route;
    this.#where = where;
    this.#arg = arg;
  }

  #fail(detail: string): never {
    throw createBadRequest(this.#route, `${this.#where}: ${detail}`);
  }

  string(name: string): string {
    const value = this.#arg[name];
    if (typeof value !== 'string')
      this.#fail(value === undefined ? `missing required field '${name}'` : `${name}: expected string`);
    return value;
  }

  optionalString(name: string): string | undefined {
    const value = this.#arg[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string') this.#fail(`${name}: expected string`);
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.#arg[name];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.#fail(`${name}: expected boolean`);
    return value;
  }

  integer(name: string, min: number, max: number): number | undefined {
    const value = this.#arg[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.#fail(`${name}: expected an integer in [${min}, ${max}]`);
    }
    return value;
  }

  record(name: string): Args {
    const value = this.#arg[name];
    if (!isRecord(value))
      this.#fail(value === undefined ? `missing required field '${name}'` : `${name}: expected object`);
    return new Args(this.#route, this.#where, value);
  }

  raw(name: string): unknown {
    return this.#arg[name];
  }

  contentHash(): string | undefined {
    const value = this.optionalString('content_hash');
    if (value !== undefined && !/^[0-9a-f]{64}$/.test(value))
      this.#fail(`content_hash: '${value}' is not a 64-character hex hash`);
    return value;
  }

  cursor(): { sessionId: string; offset: number } {
    const cursor = this.record('cursor');
    const offset = cursor.integer('offset', 0, Number.MAX_SAFE_INTEGER);
    if (offset === undefined) this.#fail("cursor: missing required field 'offset'");
    return { sessionId: cursor.string('session_id'), offset };
  }

  commit(): { path: string; request: CommitRequest } {
    const path = this.string('path');
    if (!/^(\/(.|[\r\n])*)$|^(ns:[0-9]+(\/.*)?)$/s.test(path)) {
      this.#fail(`path: '${path}' did not match pattern '(/(.|[\\r\\n])*)|(ns:[0-9]+(/.*)?)|(id:.*)'`);
    }
    const modeValue = this.raw('mode');
    let mode: CommitRequest['mode'] = 'add';
    const tag =
      typeof modeValue === 'string' ? modeValue : isRecord(modeValue) ? modeValue['.tag'] : undefined;
    if (modeValue !== undefined && modeValue !== null) {
      if (tag === 'add' || tag === 'overwrite') mode = tag;
      else if (tag === 'update' && isRecord(modeValue) && typeof modeValue.update === 'string')
        mode = { update: modeValue.update };
      else this.#fail('mode: unknown tag');
    }
    const clientModified = this.optionalString('client_modified');
    if (clientModified !== undefined && !DROPBOX_TIMESTAMP.test(clientModified)) {
      this.#fail(`client_modified: time data '${clientModified}' does not match format '%Y-%m-%dT%H:%M:%SZ'`);
    }
    this.boolean('mute', false);
    const strictConflict = this.boolean('strict_conflict', false);
    return {
      path,
      request: { mode, autorename: this.boolean('autorename', false), clientModified, strictConflict },
    };
  }
}

/** Starts the emulator; resolves once it listens. */
export async function startDropboxEmulator(options: DropboxEmulatorOptions): Promise<DropboxEmulator> {
  const store = await DropboxStore.open(options.root, options.team ?? false);
  const auth = new EmulatorAuth(
    options.accessTokenLifetimeSeconds ?? 14_400,
    join(options.root, '.dropbox-emulator', 'grants.json'),
  );
  const faults = new FaultInjector(options.faults ?? {});
  const keepBytes = options.keepBytes ?? true;
  const sessions = new UploadSessions(
    store.sessionsDir,
    options.uploadSessionLifetimeMs ?? 7 * 24 * 3600 * 1000,
    keepBytes,
  );
  const locks = new WriteLocks();
  const pageSize = options.listFolderPageSize ?? 500;
  const logLimit = options.requestLogLimit ?? 100_000;
  const requestLog: RequestLogEntry[] = [];
  let nextId = 1;

  const contention = (): boolean => faults.options.writeLockContention === true;
  const holdMs = (): number => faults.options.writeLockHoldMs ?? 25;
  const retryAfterSeconds = (): number => faults.options.retryAfterSeconds ?? 1;

  const tooManyWrites = (): HttpReply => {
    const seconds = retryAfterSeconds();
    return createRouteError({ reason: { '.tag': 'too_many_write_operations' }, retry_after: seconds }, 429, {
      'Retry-After': String(seconds),
    });
  };

  const resolveOrFail = (
    context: RouteContext,
    path: string,
    allowRoot: boolean,
  ): Resolved | 'malformed_path' => store.resolve(context.route, context.pathRoot, path, allowRoot);

  const checkData = (
    upload: ReceivedUpload | undefined,
    expected: string | undefined,
  ): HttpReply | undefined => {
    if (upload === undefined) return undefined;
    if (upload.contentHash === undefined) return createRouteError({ '.tag': 'payload_too_large' });
    if (expected !== undefined && expected !== upload.contentHash)
      return createRouteError({ '.tag': 'content_hash_mismatch' });
    return undefined;
  };

  const lookup = (id: string): UploadSession | LookupProblem => sessions.get(id);

  /** Commits `source` at `target` under the namespace write lock; `'contended'` under lock contention. */
  const commitLocked = (
    context: RouteContext,
    target: Resolved,
    source: CommitSource,
    request: CommitRequest,
  ): Promise<CommitOutcome | 'contended'> =>
    locks
      .run(target.namespace, contention(), holdMs(), () => store.commit(target, source, request))
      .then((outcome) => {
        if (outcome === 'contended') context.log.fault = 'write-lock';
        return outcome;
      });

  const finishSession = async (
    context: RouteContext,
    session: UploadSession,
    target: Resolved | 'malformed_path',
    request: CommitRequest,
  ): Promise<{ metadata: Record<string, unknown> } | { failure: Record<string, unknown> }> => {
    if (target === 'malformed_path')
      return { failure: { '.tag': 'path', path: { '.tag': 'malformed_path' } } };
    const file = store.tempFile();
    try {
      const contentHash = await sessions.assemble(session, file);
      const source: CommitSource = { file, size: session.size, contentHash };
      const outcome = await commitLocked(context, target, source, request);
      if (outcome === 'contended') return { failure: { '.tag': 'too_many_write_operations' } };
      if (!outcome.ok) return { failure: { '.tag': 'path', path: outcome.writeError } };
      await sessions.finish(session);
      return { metadata: outcome.metadata };
    } finally {
      await rm(file, { force: true });
    }
  };

  const routes: Record<string, RouteSpec> = {
    // users.stone: `route get_space_usage (Void, SpaceUsage, Void)`, scope `account_info.read`. `SpaceUsage` is
    // `used` (bytes) and `allocation`: `individual` {allocated} or `team` {used, allocated,
    // user_within_team_space_allocated (0: no limit), user_within_team_space_limit_type, …used_cached}. While
    // `setInsufficientSpace(true)` holds, the account is reported full (used = allocated).
    'users/get_space_usage': {
      style: 'rpc',
      scope: 'account_info.read',
      handle: async () => {
        const allocated = EMULATED_QUOTA_BYTES;
        const used = store.insufficientSpace ? allocated : Math.min(allocated, store.usedBytes());
        if (store.account.teamNamespaceId === undefined) {
          return { used, allocation: { '.tag': 'individual', allocated } };
        }
        return {
          used,
          allocation: {
            '.tag': 'team',
            used,
            allocated,
            user_within_team_space_allocated: 0,
            user_within_team_space_limit_type: { '.tag': 'off' },
            user_within_team_space_used_cached: used,
          },
        };
      },
    },
    'users/get_current_account': {
      style: 'rpc',
      scope: 'account_info.read',
      handle: async () => {
        const team = store.account.teamNamespaceId !== undefined;
        return {
          account_id: store.account.accountId,
          name: {
            given_name: 'Emulator',
            surname: 'User',
            familiar_name: 'Emulator',
            display_name: store.account.displayName,
            abbreviated_name: 'EU',
          },
          email: store.account.email,
          email_verified: true,
          disabled: false,
          locale: 'en',
          referral_link: 'https://db.tt/emulator',
          is_paired: false,
          account_type: { '.tag': team ? 'business' : 'basic' },
          root_info: store.rootInfo(),
          country: 'US',
          ...(team
            ? {
                team: {
                  id: 'dbtid:AADemulatorteam',
                  name: 'Emulator Team',
                  sharing_policies: {
                    shared_folder_member_policy: { '.tag': 'anyone' },
                    shared_folder_join_policy: { '.tag': 'from_anyone' },
                    shared_link_create_policy: { '.tag': 'default_public' },
                  },
                  office_addin_policy: { '.tag': 'disabled' },
                },
                team_member_id: 'dbmid:AADemulatormember',
              }
            : {}),
        };
      },
    },
    'auth/token/revoke': {
      style: 'rpc',
      handle: async (context) => {
        auth.revoke(context.call.token);
        return null;
      },
    },
    'files/upload': {
      style: 'upload',
      scope: 'files.content.write',
      handle: async (context) => {
        const args = new Args(context.route, 'HTTP header "Dropbox-API-Arg"', context.arg);
        const { path, request } = args.commit();
        const problem = checkData(context.upload, args.contentHash());
        if (problem !== undefined) throw problem;
        const upload = context.upload as ReceivedUpload & { contentHash: string };
        const failed = async (reason: Record<string, unknown>): Promise<never> => {
          // Dropbox keeps the data in an upload session, so the commit can be retried with upload_session/finish.
          const session = await sessions.start('sequential');
          await sessions.accept(session, 0, upload.size, upload.file, upload.blockDigests);
          throw createRouteError({ '.tag': 'path', reason, upload_session_id: session.id });
        };
        const target = resolveOrFail(context, path, false);
        if (target === 'malformed_path') return failed({ '.tag': 'malformed_path' });
        const outcome = await commitLocked(
          context,
          target,
          { file: upload.file, size: upload.size, contentHash: upload.contentHash },
          request,
        );
        if (outcome === 'contended') throw tooManyWrites();
        if (!outcome.ok) return failed(outcome.writeError);
        return outcome.metadata;
      },
    },
    'files/upload_session/start': {
      style: 'upload',
      scope: 'files.content.write',
      handle: async (context) => {
        const args = new Args(context.route, 'HTTP header "Dropbox-API-Arg"', context.arg);
        const close = args.boolean('close', false);
        const typeValue = args.raw('session_type');
        const typeTag = isRecord(typeValue) ? typeValue['.tag'] : typeValue;
        const type = typeTag === 'concurrent' ? 'concurrent' : 'sequential';
        if (
          typeTag !== undefined &&
          typeTag !== null &&
          typeTag !== 'concurrent' &&
          typeTag !== 'sequential'
        ) {
          throw createBadRequest(context.route, 'HTTP header "Dropbox-API-Arg": session_type: unknown tag');
        }
        const upload = context.upload as ReceivedUpload;
        const problem = checkData(upload, args.contentHash());
        if (problem !== undefined) throw problem;
        if (type === 'concurrent' && upload.size > 0)
          throw createRouteError({ '.tag': 'concurrent_session_data_not_allowed' });
        if (type === 'concurrent' && close)
          throw createRouteError({ '.tag': 'concurrent_session_close_not_allowed' });
        const session = await sessions.start(type);
        await sessions.accept(session, 0, upload.size, upload.file, upload.blockDigests);
        session.closed = close;
        return { session_id: session.id };
      },
    },
    'files/upload_session/append_v2': {
      style: 'upload',
      scope: 'files.content.write',
      handle: async (context) => {
        const args = new Args(context.route, 'HTTP header "Dropbox-API-Arg"', context.arg);
        const { sessionId, offset } = args.cursor();
        const close = args.boolean('close', false);
        const contentHash = args.contentHash();
        const upload = context.upload as ReceivedUpload;
        const session = lookup(sessionId);
        if (!('id' in session)) throw createRouteError({ ...session });
        const problem = checkData(upload, contentHash);
        if (problem !== undefined) throw problem;
        const refused = sessions.checkAppend(session, offset, upload.size, close);
        if (refused !== undefined) throw createRouteError({ ...refused });
        session.busy = true;
        try {
          await sessions.accept(session, offset, upload.size, upload.file, upload.blockDigests);
        } finally {
          session.busy = false;
        }
        if (close) session.closed = true;
        return null;
      },
    },
    'files/upload_session/finish': {
      style: 'upload',
      scope: 'files.content.write',
      handle: async (context) => {
        const args = new Args(context.route, 'HTTP header "Dropbox-API-Arg"', context.arg);
        const { sessionId, offset } = args.cursor();
        const { path, request } = args.record('commit').commit();
        const target = resolveOrFail(context, path, false);
        const contentHash = args.contentHash();
        const upload = context.upload as ReceivedUpload;
        const session = lookup(sessionId);
        if (!('id' in session)) throw createRouteError({ '.tag': 'lookup_failed', lookup_failed: session });
        const problem = checkData(upload, contentHash);
        if (problem !== undefined) throw problem;
        if (session.type === 'concurrent') {
          if (upload.size > 0) throw createRouteError({ '.tag': 'concurrent_session_data_not_allowed' });
          if (!session.closed) throw createRouteError({ '.tag': 'concurrent_session_not_closed' });
          if (!sessions.complete(session))
            throw createRouteError({ '.tag': 'concurrent_session_missing_data' });
        } else if (session.busy || offset !== session.size) {
          throw createRouteError({
            '.tag': 'lookup_failed',
            lookup_failed: { '.tag': 'incorrect_offset', correct_offset: session.size },
          });
        } else {
          await sessions.accept(session, offset, upload.size, upload.file, upload.blockDigests);
        }
        const result = await finishSession(context, session, target, request);
        if ('failure' in result) {
          if (result.failure['.tag'] === 'too_many_write_operations') context.log.fault = 'write-lock';
          throw createRouteError(result.failure);
        }
        return result.metadata;
      },
    },
    'files/upload_session/finish_batch_v2': {
      style: 'rpc',
      scope: 'files.content.write',
      handle: async (context) => {
        const entries = context.arg.entries;
        if (!Array.isArray(entries) || entries.length > 1000) {
          throw createBadRequest(
            context.route,
            'request body: entries: expected a list of at most 1000 items',
          );
        }
        const parsed = entries.map((raw: unknown) => {
          if (!isRecord(raw))
            throw createBadRequest(context.route, 'request body: entries: expected objects');
          const entry = new Args(context.route, 'request body: entries', raw);
          const { path, request } = entry.record('commit').commit();
          return { ...entry.cursor(), target: resolveOrFail(context, path, false), request };
        });
        const results: Record<string, unknown>[] = new Array(parsed.length);
        const fail = (position: number, failure: Record<string, unknown>): void => {
          results[position] = { '.tag': 'failure', failure };
        };
        interface Ready {
          readonly position: number;
          readonly session: UploadSession;
          readonly target: Resolved;
          readonly request: CommitRequest;
          readonly source: CommitSource;
        }
        const ready: Ready[] = [];
        try {
          for (const [position, { sessionId, offset, target, request }] of parsed.entries()) {
            const session = lookup(sessionId);
            if (!('id' in session)) fail(position, { '.tag': 'lookup_failed', lookup_failed: session });
            else if (!session.closed)
              fail(position, { '.tag': 'lookup_failed', lookup_failed: { '.tag': 'not_closed' } });
            else if (session.type === 'concurrent' && !sessions.complete(session)) {
              fail(position, { '.tag': 'concurrent_session_missing_data' });
            } else if (offset !== session.size) {
              fail(position, {
                '.tag': 'lookup_failed',
                lookup_failed: { '.tag': 'incorrect_offset', correct_offset: session.size },
              });
            } else if (target === 'malformed_path') {
              fail(position, { '.tag': 'path', path: { '.tag': 'malformed_path' } });
            } else {
              const file = store.tempFile();
              const contentHash = await sessions.assemble(session, file);
              ready.push({
                position,
                session,
                target,
                request,
                source: { file, size: session.size, contentHash },
              });
            }
          }
          // The batch takes each namespace's write lock once for all its entries, which is why Dropbox advises it
          // against lock contention: under contention the whole batch is refused, entry by entry.
          for (const namespace of new Set(ready.map((item) => item.target.namespace))) {
            const group = ready.filter((item) => item.target.namespace === namespace);
            const outcomes = await locks.run(namespace, contention(), holdMs(), async () => {
              const committed: CommitOutcome[] = [];
              for (const item of group)
                committed.push(await store.commit(item.target, item.source, item.request));
              return committed;
            });
            if (outcomes === 'contended') {
              context.log.fault = 'write-lock';
              for (const item of group) fail(item.position, { '.tag': 'too_many_write_operations' });
              continue;
            }
            for (const [index, outcome] of outcomes.entries()) {
              const item = group[index] as Ready;
              if (!outcome.ok) {
                fail(item.position, { '.tag': 'path', path: outcome.writeError });
                continue;
              }
              await sessions.finish(item.session);
              results[item.position] = { '.tag': 'success', ...outcome.metadata };
            }
          }
        } finally {
          for (const item of ready) await rm(item.source.file, { force: true });
        }
        return { entries: results };
      },
    },
    'files/get_metadata': {
      style: 'rpc',
      scope: 'files.metadata.read',
      handle: async (context) => {
        const args = new Args(context.route, 'request body', context.arg);
        const path = args.string('path');
        const includeDeleted = args.boolean('include_deleted', false);
        args.boolean('include_media_info', false);
        args.boolean('include_has_explicit_shared_members', false);
        if (!/^(\/(.|[\r\n])*|id:.*)$|^(rev:[0-9a-f]{9,})$|^(ns:[0-9]+(\/.*)?)$/s.test(path)) {
          throw createBadRequest(
            context.route,
            `request body: path: '${path}' did not match pattern '(/(.|[\\r\\n])*|id:.*)|(rev:[0-9a-f]{9,})|(ns:[0-9]+(/.*)?)'`,
          );
        }
        let metadata: Record<string, unknown> | undefined;
        if (path.startsWith('id:')) {
          const root = store.resolve(context.route, context.pathRoot, '', true);
          metadata = await store.metadataById(path, root === 'malformed_path' ? 'home' : root.namespace);
        } else if (path.startsWith('rev:')) {
          throw createBadRequest(
            context.route,
            'request body: path: rev: paths are not supported by the emulator',
          );
        } else {
          const target = resolveOrFail(context, path, false);
          if (target === 'malformed_path')
            throw createRouteError({ '.tag': 'path', path: { '.tag': 'malformed_path' } });
          metadata = await store.metadata(target, includeDeleted);
        }
        if (metadata === undefined) throw createRouteError({ '.tag': 'path', path: { '.tag': 'not_found' } });
        return metadata;
      },
    },
    'files/list_folder': {
      style: 'rpc',
      scope: 'files.metadata.read',
      handle: async (context) => {
        const args = new Args(context.route, 'request body', context.arg);
        const path = args.string('path');
        const recursive = args.boolean('recursive', false);
        const includeDeleted = args.boolean('include_deleted', false);
        const limit = args.integer('limit', 1, 2000) ?? pageSize;
        const target = resolveOrFail(context, path, true);
        if (target === 'malformed_path')
          throw createRouteError({ '.tag': 'path', path: { '.tag': 'malformed_path' } });
        const page = await store.list(target, recursive, includeDeleted, limit);
        if (typeof page === 'string') throw createRouteError({ '.tag': 'path', path: { '.tag': page } });
        return { entries: page.entries, cursor: page.cursor, has_more: page.hasMore };
      },
    },
    'files/list_folder/continue': {
      style: 'rpc',
      scope: 'files.metadata.read',
      handle: async (context) => {
        const args = new Args(context.route, 'request body', context.arg);
        const page = await store.continueList(args.string('cursor'), pageSize);
        if (page === undefined) throw createRouteError({ '.tag': 'reset' });
        return { entries: page.entries, cursor: page.cursor, has_more: page.hasMore };
      },
    },
  };

  const faultReply = (decision: FaultDecision): HttpReply | undefined => {
    if (decision.kind === 'rate-limit') {
      const seconds = decision.retryAfterSeconds ?? retryAfterSeconds();
      if (!decision.retryAfter) return createRouteError({ reason: { '.tag': 'too_many_requests' } }, 429);
      return createRouteError({ reason: { '.tag': 'too_many_requests' }, retry_after: seconds }, 429, {
        'Retry-After': String(seconds),
      });
    }
    if (decision.kind === 'server-error') {
      return new HttpReply(
        decision.status,
        decision.status === 503 ? 'Service Unavailable' : 'Internal Server Error',
      );
    }
    return undefined;
  };

  const resetPoint = (req: IncomingMessage, decision: FaultDecision): number | undefined => {
    if (decision.kind !== 'reset') return undefined;
    const length = Number(req.headers['content-length'] ?? 'NaN');
    if (Number.isFinite(length)) return length > 0 ? Math.max(1, Math.floor(length / 2)) : 0;
    return 1;
  };

  const handleApi = async (req: IncomingMessage, log: RequestLogEntry, route: string): Promise<HttpReply> => {
    const spec = routes[route];
    const receive = {
      bandwidthBytesPerSec: faults.options.bandwidthBytesPerSec,
      onBytes: (count: number) => {
        log.bytesIn += count;
      },
    };
    if (spec === undefined || req.method !== 'POST') {
      await receiveSmall(req, route, Number.MAX_SAFE_INTEGER, receive);
      return new HttpReply(spec === undefined ? 404 : 405, `Unknown API function: "${route}"`);
    }
    const decision = faults.decide(route);
    if (decision.kind !== 'none') log.fault = decision.kind;
    const options = { ...receive, keepBytes, resetAfterBytes: resetPoint(req, decision) };
    let upload: ReceivedUpload | undefined;
    let body: Buffer | undefined;
    const scratch = spec.style === 'upload' ? store.tempFile() : undefined;
    try {
      if (scratch !== undefined) upload = await receiveUpload(req, scratch, MAX_REQUEST_BYTES, options);
      else body = await receiveSmall(req, route, RPC_BODY_LIMIT, options);
      const injected = faultReply(decision);
      if (injected !== undefined) return injected;
      const call = auth.check(route, req.headers.authorization, spec.scope);
      let arg: Record<string, unknown> = {};
      if (spec.style === 'upload') {
        const header = req.headers['dropbox-api-arg'];
        if (typeof header !== 'string') throw createBadRequest(route, 'Missing header "Dropbox-API-Arg"');
        // Header values reach Node as latin-1: anything past ASCII was sent unescaped.
        if (/[^\x20-\x7e]/.test(header)) {
          throw createBadRequest(
            route,
            'HTTP header "Dropbox-API-Arg": could not decode input as JSON (non-ASCII characters must be escaped as \\uXXXX)',
          );
        }
        const contentType = req.headers['content-type'] ?? '';
        if (!UPLOAD_CONTENT_TYPES.has(contentType)) {
          throw createBadRequest(
            route,
            `Bad HTTP "Content-Type" header: "${contentType}". Expecting one of "application/octet-stream", "text/plain; charset=dropbox-cors-hack".`,
          );
        }
        const parsed = parseJson(route, 'HTTP header "Dropbox-API-Arg"', header);
        if (!isRecord(parsed))
          throw createBadRequest(route, 'HTTP header "Dropbox-API-Arg": expected a JSON object');
        arg = parsed;
        if (log.bytesIn > 0) log.contentHashDeclared = typeof parsed.content_hash === 'string';
      } else if (body !== undefined && body.byteLength > 0) {
        const text = body.toString('utf8');
        if (text.trim() !== 'null') {
          const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
          if (contentType !== 'application/json') {
            throw createBadRequest(
              route,
              `Bad HTTP "Content-Type" header: "${contentType ?? ''}". Expecting "application/json".`,
            );
          }
          const parsed = parseJson(route, 'request body', text);
          if (!isRecord(parsed)) throw createBadRequest(route, 'request body: expected a JSON object');
          arg = parsed;
        }
      }
      const header = req.headers['dropbox-api-path-root'];
      const pathRoot = typeof header === 'string' ? header : undefined;
      // The header is checked on every call that carries it (400 unreadable, 422 invalid_root or no_permission).
      if (pathRoot !== undefined) store.resolve(route, pathRoot, '', true);
      const result = await spec.handle({
        route,
        call,
        pathRoot,
        arg,
        upload,
        log,
      });
      return new HttpReply(200, result);
    } finally {
      // Gone already when a commit or session took the file; left behind by a failure or a reset otherwise.
      if (scratch !== undefined) await rm(scratch, { force: true });
    }
  };

  const handleOauth = async (req: IncomingMessage, url: URL, log: RequestLogEntry): Promise<HttpReply> => {
    const route = url.pathname.slice(1);
    const receive = {
      bandwidthBytesPerSec: faults.options.bandwidthBytesPerSec,
      onBytes: (count: number) => {
        log.bytesIn += count;
      },
    };
    if (route === 'oauth2/authorize' && req.method === 'GET') {
      await receiveSmall(req, route, RPC_BODY_LIMIT, receive);
      const { code, redirect } = auth.authorize(url.searchParams);
      if (redirect !== undefined) return new HttpReply(302, '', { Location: redirect });
      return new HttpReply(200, code);
    }
    const decision = faults.decide(route);
    if (decision.kind !== 'none') log.fault = decision.kind;
    const body = await receiveSmall(req, route, RPC_BODY_LIMIT, {
      ...receive,
      resetAfterBytes: resetPoint(req, decision),
    });
    const injected = faultReply(decision);
    if (injected !== undefined) return injected;
    if (req.method !== 'POST') return new HttpReply(405, 'Method Not Allowed');
    const params = new URLSearchParams(url.searchParams);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    if (contentType === 'application/x-www-form-urlencoded') {
      for (const [name, value] of new URLSearchParams(body.toString('utf8'))) params.set(name, value);
    }
    return new HttpReply(200, auth.token(params, req.headers.authorization));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const route = url.pathname.startsWith('/2/') ? url.pathname.slice(3) : url.pathname.replace(/^\//, '');
    const pathRoot = req.headers['dropbox-api-path-root'];
    const log: RequestLogEntry = {
      id: nextId++,
      method: req.method ?? 'GET',
      route,
      bytesIn: 0,
      status: 0,
      startedAt: Date.now(),
      endedAt: undefined,
      pathRoot: typeof pathRoot === 'string' ? pathRoot : undefined,
      fault: undefined,
      errorSummary: undefined,
    };
    requestLog.push(log);
    if (requestLog.length > logLimit) requestLog.splice(0, requestLog.length - logLimit);
    res.once('close', () => {
      log.status = res.writableFinished ? res.statusCode : 0;
      log.endedAt = Date.now();
    });
    let reply: HttpReply;
    try {
      const latency = faults.options.latencyMs ?? 0;
      if (latency > 0) await delay(latency);
      if (url.pathname.startsWith('/2/')) reply = await handleApi(req, log, route);
      else if (route === 'oauth2/token' || route === 'oauth2/authorize')
        reply = await handleOauth(req, url, log);
      else {
        await receiveSmall(req, route, RPC_BODY_LIMIT, { onBytes: (count) => (log.bytesIn += count) });
        reply = new HttpReply(404, 'Not Found');
      }
    } catch (error) {
      if (error instanceof ConnectionGone) {
        res.destroy();
        return;
      }
      if (error instanceof HttpReply) {
        reply = error;
      } else {
        const message = error instanceof Error ? error.message : String(error);
        process.emitWarning(`dropbox emulator: ${route}: ${message}`);
        reply = new HttpReply(500, 'Internal Server Error');
      }
    }
    if (reply.status >= 400 && isRecord(reply.body)) {
      const summary = reply.body.error_summary ?? reply.body.error;
      log.errorSummary = typeof summary === 'string' ? summary : formatErrorSummary(reply.body.error);
    }
    sendReply(res, reply);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      process.emitWarning(`dropbox emulator: ${error instanceof Error ? error.message : String(error)}`);
      res.destroy();
    });
  });
  // Uploads of 150 MiB over a throttled link take long; Node's default request timeout (5 min) would cut them.
  server.requestTimeout = 0;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shownHost}:${address.port}`,
    requestLog,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await store.persist();
    },
    setFaults(next) {
      faults.set(next);
    },
    revokeAllTokens() {
      auth.revokeAll();
    },
    setInsufficientSpace(on) {
      store.insufficientSpace = on;
    },
    changeTeamRoot() {
      store.changeTeamRoot();
    },
    expireAccessTokens() {
      auth.expireAccessTokens();
    },
    expireUploadSessions() {
      sessions.expireAll();
    },
    rootInfo() {
      return store.rootInfo();
    },
    async moveFile(fromPath, toPath) {
      const rootHeader = JSON.stringify({ '.tag': 'root', root: store.rootNamespaceId });
      const from = store.resolve('moveFile', rootHeader, fromPath, false);
      const to = store.resolve('moveFile', rootHeader, toPath, false);
      if (from === 'malformed_path' || to === 'malformed_path') throw new Error('moveFile: malformed path');
      return store.moveFile(from, to);
    },
    async deleteFile(path) {
      const rootHeader = JSON.stringify({ '.tag': 'root', root: store.rootNamespaceId });
      const target = store.resolve('deleteFile', rootHeader, path, false);
      if (target === 'malformed_path') throw new Error('deleteFile: malformed path');
      // As a deletion on disk, which the store notices on its next look at the path.
      await rm(store.diskPathOf(target), { force: true });
    },
  };
}
