// Runs a real entry point (src/main.ts, src/restore-main.ts, src/audit-main.ts, …) once as a
// child process with exactly the given environment and collects everything it prints: for
// tests of how start-up fails, and of the commands an operator runs.
import { spawn } from 'node:child_process';
import { builtEntry } from './built.js';

export interface EntryRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Both, in the order they arrived. */
  all: string;
}

/** `node <entry compiled> …args` (support/built.ts: src/x.ts as this run built it), SIGKILLed
 *  after `ms`. */
export function runEntry(entry: string, args: string[], env: Record<string, string>, ms = 60_000): Promise<EntryRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [builtEntry(entry), ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let all = '';
    child.stdout.on('data', (d) => ((stdout += d), (all += d)));
    child.stderr.on('data', (d) => ((stderr += d), (all += d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, all });
    });
  });
}

/** src/main.ts, everything it printed together. */
export async function runMain(env: Record<string, string>, ms = 20_000): Promise<{ code: number | null; out: string }> {
  const r = await runEntry('src/main.ts', [], env, ms);
  return { code: r.code, out: r.all };
}
