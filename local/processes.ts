/** Pid files for the child processes of the local stack, so a stack killed hard leaves nothing behind next time. */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export function writePidFile(file: string, pid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, String(pid));
}

/**
 * Kills the process a pid file names if it is still alive (left by a stack that was killed hard),
 * and only if its command line still contains `expected`, so a reused pid is never touched.
 */
export function killStaleProcess(file: string, expected: string): void {
  if (!fs.existsSync(file)) return;
  const pid = Number(fs.readFileSync(file, 'utf8'));
  let commandLine = '';
  try {
    commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    // not running (or no /proc): nothing to kill
  }
  if (Number.isInteger(pid) && pid > 0 && commandLine.includes(expected)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    // Wait until it is gone, so its files and port are free again.
    const deadline = Date.now() + 10_000;
    while (fs.existsSync(`/proc/${pid}`) && Date.now() < deadline)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  fs.rmSync(file, { force: true });
}

/** A free TCP port on the host, for a child process that cannot listen on port 0 itself. */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
