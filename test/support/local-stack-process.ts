/**
 * Starts `local/main.ts` as a child process (in memory, ephemeral ports) the way a developer runs `npm start`,
 * and waits for its ready line. Used by the integration tests' global setup, and by tests that kill and
 * restart the stack.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface StackInfo {
  urls: { api: string; sfn: string; dynamodb: string; sqs: string; psp: string };
  devApiKey: string;
  failedPaymentsQueueUrl: string;
  pspSecretKey: string;
}

export interface StackProcess {
  info: StackInfo;
  child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const ROOT = path.resolve(__dirname, '..', '..');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts');

export async function startStackProcess(options: {
  dataDir: string;
  logFile: string;
  env?: Record<string, string>;
  inMemory?: boolean;
}): Promise<StackProcess> {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  const log = fs.createWriteStream(options.logFile, { flags: 'a' });
  const pspSecretKey = 'sk_test_integration_simulator';
  const child = spawn(
    process.execPath,
    // One process (tsx as a loader, not its CLI, which would run the stack in a child): a kill is a real crash.
    ['--import', 'tsx', 'local/main.ts', ...(options.inMemory === false ? [] : ['--in-memory'])],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        API_PORT: '0',
        SFN_PORT: '0',
        DYNAMODB_PORT: '0',
        SQS_PORT: '0',
        PSP_PORT: '0',
        LOCAL_DATA_DIR: options.dataDir,
        PSP_SECRET_KEY: pspSecretKey,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const info = await new Promise<StackInfo>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => {
      // Not left running: a stack that never got ready is killed (DynamoDB Local with it).
      child.kill('SIGKILL');
      reject(new Error(`local stack not ready after 120 s; see ${options.logFile}`));
    }, 120_000);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((l) => l.startsWith('LOCAL_STACK_READY '));
      if (line) {
        clearTimeout(timer);
        resolve({
          ...(JSON.parse(line.slice('LOCAL_STACK_READY '.length)) as Omit<StackInfo, 'pspSecretKey'>),
          pspSecretKey,
        });
        buffer = '';
      } else if (buffer.length > 1_000_000) {
        buffer = buffer.slice(-10_000);
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`local stack exited with ${code} before it was ready; see ${options.logFile}`));
    });
  });
  let stopped: Promise<number | null> | undefined;
  return {
    info,
    child,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        // A stack that does not stop within 30 s is killed.
        const late = setTimeout(() => child.kill('SIGKILL'), 30_000);
        const code = await exited;
        clearTimeout(late);
        await new Promise((resolve) => log.end(resolve));
        return code;
      })();
      return stopped;
    },
  };
}
