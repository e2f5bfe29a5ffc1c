/** What the operator scripts share: their options, a progress bar, and the running local stack's API and dev key. */
import fs from 'node:fs';
import path from 'node:path';
import { type LocalStackConfig, loadLocalStackConfig } from '../src/core/config';

/** The value after `--<name>` on the command line. */
export function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

export function bar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 0;
  const filled = Math.round(ratio * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%`;
}

/**
 * The API to call and its key: --api, else the local stack's; --key, else DEV_API_KEY, else the dev key `npm start`
 * keeps under the data folder.
 */
export function localApi(): { api: string; key: string; config: LocalStackConfig } {
  const config = loadLocalStackConfig();
  const api = option('api') ?? `http://${config.host}:${config.ports.api}`;
  const keyFile = path.join(config.dataDir, 'dev-api-key');
  const key =
    option('key') ?? config.devApiKey ?? (fs.existsSync(keyFile) ? fs.readFileSync(keyFile, 'utf8').trim() : '');
  if (!key) throw new Error(`no API key: start the stack (npm start) or pass --key (looked in ${keyFile})`);
  return { api, key, config };
}
