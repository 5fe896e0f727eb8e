/**
 * Dropbox metadata and timestamps in the shapes the rest of the project uses.
 */
import type { files } from 'dropbox';
import type { DropboxFile } from '../ports.ts';

/**
 * Dropbox's timestamp form (`%Y-%m-%dT%H:%M:%SZ`): ISO 8601 in UTC without milliseconds. Dropbox refuses a
 * `client_modified` with milliseconds (400), so they are cut, not rounded.
 */
export function formatDropboxTimestamp(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('formatDropboxTimestamp: invalid date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A `FileMetadata` as the project's {@link DropboxFile}. */
export function toDropboxFile(metadata: files.FileMetadata): DropboxFile {
  return {
    id: metadata.id,
    name: metadata.name,
    pathDisplay: metadata.path_display ?? metadata.name,
    pathLower: metadata.path_lower ?? (metadata.path_display ?? metadata.name).toLowerCase(),
    size: metadata.size,
    rev: metadata.rev,
    contentHash: metadata.content_hash ?? '',
    clientModified: metadata.client_modified,
    serverModified: metadata.server_modified,
  };
}
