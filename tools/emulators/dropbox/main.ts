/**
 * Runs the Dropbox API emulator on its own:
 *   npm run emulator:dropbox -- --port 8787 --root .local/dropbox [--team] [--host 127.0.0.1] [--token-lifetime 14400]
 * Prints `Dropbox API emulator listening on <url>` once ready; stops on SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { EMULATOR_CREDENTIALS, startDropboxEmulator } from './server.ts';

const usage =
  'usage: node tools/emulators/dropbox/main.ts --root DIR [--port P] [--host H] [--team] [--token-lifetime SECONDS]';

async function main(): Promise<number> {
  let values: { root?: string; port?: string; host?: string; team?: boolean; 'token-lifetime'?: string };
  try {
    ({ values } = parseArgs({
      options: {
        root: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        team: { type: 'boolean' },
        'token-lifetime': { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    process.stderr.write(`${error.message}\n${usage}\n`);
    return 2;
  }
  const port = values.port === undefined ? 0 : Number(values.port);
  const lifetime = values['token-lifetime'] === undefined ? 14_400 : Number(values['token-lifetime']);
  const badLifetime = !Number.isFinite(lifetime) || lifetime <= 0;
  if (values.root === undefined || !Number.isInteger(port) || port < 0 || port > 65_535 || badLifetime) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  const emulator = await startDropboxEmulator({
    root: values.root,
    port,
    host: values.host,
    team: values.team ?? false,
    accessTokenLifetimeSeconds: lifetime,
  });
  process.stdout.write(`Dropbox API emulator listening on ${emulator.url}\n`);
  process.stdout.write(`  files under ${values.root}; test app key ${EMULATOR_CREDENTIALS.appKey}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await emulator.close();
  return 0;
}

process.exitCode = await main();
