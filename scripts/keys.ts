/**
 * Manages API keys (src/api/api-keys.ts).
 *
 *   npm run keys -- create --label "risk desk" --scopes reviews:write,payments:read [--json]
 *   npm run keys -- list [--json]
 *   npm run keys -- revoke <key id>
 *
 * Locally it uses the running stack's DynamoDB (`$LOCAL_DATA_DIR/function-env.json`, written by `npm start`). On AWS,
 * set AWS_REGION and API_KEYS_TABLE (the stateful stack's ApiKeys table) with credentials that may read and write it.
 * A created key's secret is printed once: only a salted hash of it is stored, so it can never be shown again.
 * A revoked key is refused within a minute by a warm authorizer (its cache of key records), and within the
 * authorizer result cache's TTL by API Gateway.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ApiKeySummary, parseScopes, SCOPES } from '../src/api/api-keys';
import { loadLocalStackConfig, loadRuntimeConfig } from '../src/core/config';

const USAGE = `usage:
  npm run keys -- create --label <label> --scopes <scope,scope...> [--json]
  npm run keys -- list [--json]
  npm run keys -- revoke <key id>
scopes: ${SCOPES.join(', ')} (admin implies every other one)`;

class UsageError extends Error {}

/**
 * Like the replay command: without API_KEYS_TABLE in the environment, takes the running local stack's settings.
 * Returns where the settings came from, for error messages.
 */
function loadEnvironment(): 'environment' | 'local stack' {
  if (loadRuntimeConfig().tables.apiKeys) return 'environment';
  const file = path.join(loadLocalStackConfig().dataDir, 'function-env.json');
  if (!fs.existsSync(file)) {
    throw new Error(
      `API_KEYS_TABLE is not set and ${file} does not exist: start the local stack (npm start), or set ` +
        'AWS_REGION and API_KEYS_TABLE (with AWS credentials) to manage the keys of a deployed stack',
    );
  }
  for (const [name, value] of Object.entries(JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, string>)) {
    process.env[name] ??= value;
  }
  return 'local stack';
}

function table(keys: ApiKeySummary[]): string {
  const rows = [
    ['KEY ID', 'LABEL', 'SCOPES', 'CREATED', 'STATUS', 'HASH'],
    ...keys.map((k) => [
      k.key_id,
      k.label,
      k.scopes.length > 0 ? k.scopes.join(',') : '(none: no access)',
      k.created_at,
      k.revoked ? `revoked ${k.revoked_at ?? ''}`.trim() : 'active',
      k.algorithm,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      label: { type: 'string' },
      scopes: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!['create', 'list', 'revoke'].includes(command)) throw new UsageError(`unknown command '${command}'`);
  // Checked before anything is loaded or called.
  let scopes: ReturnType<typeof parseScopes> = [];
  if (command === 'create') {
    if (!values.label) throw new UsageError('create needs --label');
    if (!values.scopes) throw new UsageError('create needs --scopes (a key without scopes could do nothing)');
    try {
      scopes = parseScopes(values.scopes);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    if (scopes.length === 0) throw new UsageError('create needs at least one scope');
  }
  if (command === 'revoke' && rest.length !== 1) throw new UsageError('revoke needs one key id');

  const source = loadEnvironment();
  // Imported after the environment is in place: the clients read it once.
  const { ApiKeys } = await import('../src/api/api-keys');
  const { dynamo, runtimeConfig } = await import('../src/core/clients');
  const { tableName } = await import('../src/core/config');
  const keys = new ApiKeys(dynamo(), tableName(runtimeConfig(), 'apiKeys'));
  try {
    if (command === 'create') {
      const label = values.label ?? '';
      const issued = await keys.issue(label, { scopes });
      if (values.json) {
        const out = { key_id: issued.keyId, label, scopes: issued.scopes, secret_key: issued.secretKey };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(
          `Created key ${issued.keyId} ("${label}") with the scopes ${issued.scopes.join(', ')}.\n` +
            'Its secret, shown this once (only a hash of it is stored; keep it in a secret store):\n\n' +
            `  ${issued.secretKey}\n\n`,
        );
      }
    } else if (command === 'list') {
      const listed = await keys.list();
      process.stdout.write(values.json ? `${JSON.stringify(listed, null, 2)}\n` : `${table(listed)}\n`);
    } else {
      // A whole key may be given (a leaked one, pasted): only its id is ever printed.
      const given = rest[0] ?? '';
      const keyId = /^mpk_([a-f0-9]{16})_/.exec(given)?.[1] ?? given;
      if (!(await keys.revoke(given))) throw new Error(`no key ${keyId}`);
      process.stdout.write(`Revoked key ${keyId}.\n`);
    }
  } catch (error) {
    const { code, message } = (error ?? {}) as { code?: string; message?: string };
    if (source === 'local stack' && (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(String(message)))) {
      throw new Error(`cannot reach the local stack's DynamoDB: is the local stack running (npm start)?`);
    }
    throw error;
  }
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`keys: ${message}\n`);
  if (error instanceof UsageError) process.stderr.write(`${USAGE}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
