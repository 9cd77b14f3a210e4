import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/build.js';

export const DEMO = join(ROOT, 'examples', 'demo', 'demo.mjs');

export interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * examples/demo/demo.mjs as a user runs it: a child process on the built packages (dist/), stdout a pipe (no
 * TTY). `timeoutMs` is a failure guard only: the demo ends by itself a few seconds after its rollback.
 */
export function runDemo(
  args: string[],
  cwd: string,
  { env = {}, timeoutMs = 170_000 }: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], {
      cwd,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the demo did not end within ${timeoutMs} ms:\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}
