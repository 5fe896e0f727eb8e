/**
 * The one redaction of text a remote side wrote (lib/redact.ts): credentials go, the wording around them stays.
 */
import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../lib/redact.ts';

describe('redactSecrets', () => {
  it.each([
    [
      'Invalid authorization value in HTTP header "Authorization": "not-a-scheme-value"',
      '"Authorization": "[redacted]"',
    ],
    ['Authorization: Bearer sl.abc', 'Authorization: Bearer [redacted]'],
    ['authorization: bearer sl.u.AbCdEfGh123456', 'authorization: bearer [redacted]'],
    [
      'grant_type=refresh_token&refresh_token=emulator-refresh-token&client_id=key',
      'refresh_token=[redacted]&',
    ],
    ['{"client_secret": "s3cret"}', '{"client_secret": "[redacted]"}'],
    ['code OAc2K9dQ7xLm0PzR4tYv8WnB1sHe6JkFg3iUa5ZoCq2 expired', 'code [redacted] expired'],
  ])('redacts the credential in %s', (text, expected) => {
    // Act
    const redacted = redactSecrets(text);

    // Assess
    expect(redacted).toContain(expected);
  });

  it.each([
    'path/conflict/file/..',
    'Expecting "Bearer <oauth2-access-token>"',
    'rev 015f7c8a9b0c1000000020b5a2e0, content_hash e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    "path: '/Ticket Files/print/Daily Planet/2024-05-01/Full page ad – final.pdf' did not match pattern",
    'S3 GetObject on s3://bucket/tickets/1002/Proof.pdf failed (503 ServiceUnavailable)',
    'the emulator-refresh-token-of-a-test and 0123456789abcdef0123456789abcdef',
    'S3 HeadObject on s3://bucket/tickets/T-1/Invoice_2024_November_ACME-Corp_Final.pdf timed out',
    '/Ticket Files/Proof_for_Client_Review_Version2_FINAL.pdf is a file',
    'a basic check failed',
  ])('keeps %s as it is', (text) => {
    // Act
    const redacted = redactSecrets(text);

    // Assess
    expect(redacted).toBe(text);
  });
});
