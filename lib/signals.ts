/** Abort-signal helpers shared by the adapters (no AWS, no Dropbox). */

/**
 * Resolves with `promise`, or rejects with the signal's reason as soon as `signal` aborts. For a caller waiting on
 * work it shares with other callers (a token refresh, a settings read), which no one caller's signal may cancel.
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
