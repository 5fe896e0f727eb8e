/**
 * Where Dropbox calls go. Dropbox serves RPC routes on `api.dropboxapi.com`, upload routes on
 * `content.dropboxapi.com` and the token endpoint on `api.dropboxapi.com/oauth2/token`; `DROPBOX_ENDPOINT_URL`
 * names one origin that serves all of them (the emulator, a proxy).
 */

/** Dropbox's own origin for RPC routes and the token endpoint. */
export const DROPBOX_API_ORIGIN = 'https://api.dropboxapi.com';
/** Dropbox's own origin for the authorisation page. */
export const DROPBOX_WEB_ORIGIN = 'https://www.dropbox.com';

/** Validates `DROPBOX_ENDPOINT_URL` and returns it without a trailing slash. */
export function normalizeEndpointUrl(endpointUrl: string): string {
  let parsed: URL;
  try {
    parsed = new URL(endpointUrl);
  } catch (error) {
    throw new Error(`DROPBOX_ENDPOINT_URL is not a URL: ${endpointUrl}`, { cause: error });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`DROPBOX_ENDPOINT_URL must be http(s): ${endpointUrl}`);
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** The token endpoint for an optional `DROPBOX_ENDPOINT_URL`. */
export function buildTokenUrl(endpointUrl: string | undefined): string {
  const base = endpointUrl === undefined ? DROPBOX_API_ORIGIN : normalizeEndpointUrl(endpointUrl);
  return `${base}/oauth2/token`;
}

/** The authorisation page for an optional `DROPBOX_ENDPOINT_URL`. */
export function buildAuthorizePageUrl(endpointUrl: string | undefined): string {
  const base = endpointUrl === undefined ? DROPBOX_WEB_ORIGIN : normalizeEndpointUrl(endpointUrl);
  return `${base}/oauth2/authorize`;
}

function requestUrl(input: Parameters<typeof fetch>[0]): string {
  if (typeof input === 'string') return input;
  if (input instanceof URL) return input.href;
  return input.url;
}

/**
 * A `fetch` for the `dropbox` SDK that sends every call (api and content hosts alike) to `endpointUrl`, keeping the
 * path and query. Without an endpoint URL it is `baseFetch` itself.
 */
export function createRoutedFetch(endpointUrl: string | undefined, baseFetch: typeof fetch): typeof fetch {
  if (endpointUrl === undefined) return baseFetch;
  const base = normalizeEndpointUrl(endpointUrl);
  const routed = (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const original = new URL(requestUrl(input));
    return baseFetch(`${base}${original.pathname}${original.search}`, init);
  };
  return routed as typeof fetch;
}
