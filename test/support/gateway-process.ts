// Runs the real entry point (src/main.ts) as a separate process, as in production, for
// tests that need several instances or a SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { builtEntry } from './built.js';
import { PUBLIC_BASE_URL, TEST_ADMIN_KEY, TEST_AUTH_TOKEN, TEST_STAFF_SECRET } from './gateway.js';
import { dropTestDatabase, testDatabaseUrl } from './postgres.js';
import { TEST_REDIS_URL } from './redis-url.js';

export interface GatewayProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How the gateway is started: by default this run's compiled src/main.ts (support/built.ts)
 *  from this checkout; a production install (test/production-install.test.ts) runs
 *  `node dist/main.js` in its own folder. */
export interface Launch {
  args: string[];
  cwd?: string;
}

export function startGatewayProcess(
  prefix: string,
  env: Record<string, string> = {},
  launch: Launch = { args: [builtEntry('src/main.ts')] },
): Promise<GatewayProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, launch.args, {
      cwd: launch.cwd,
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        HOST: '127.0.0.1',
        REDIS_URL: TEST_REDIS_URL,
        REDIS_PREFIX: prefix,
        TWILIO_AUTH_TOKEN: TEST_AUTH_TOKEN,
        ADMIN_API_KEY: TEST_ADMIN_KEY,
        STAFF_TOKEN_SECRET: TEST_STAFF_SECRET,
        PUBLIC_BASE_URL,
        LOG_LEVEL: 'info',
        DATABASE_URL: testDatabaseUrl(prefix),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let started = false;
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gateway did not start: ${out}`));
    }, 20_000);
    const onData = (d: Buffer) => {
      out += d;
      if (started) return;
      // pino writes the message after the fields.
      const m = /^\{.*"port":(\d+).*"msg":"minutegate listening"/m.exec(out);
      if (m) {
        started = true;
        clearTimeout(timer);
        resolve({
          child,
          url: `http://127.0.0.1:${m[1]}`,
          output: () => out,
          exited,
          async stop(signal = 'SIGTERM') {
            if (child.exitCode === null) child.kill(signal);
            const code = await exited;
            // The prefix's database goes with it (a test naming its own keeps it).
            if (!env.DATABASE_URL) await dropTestDatabase(testDatabaseUrl(prefix)).catch(() => {});
            return code;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      if (!started) {
        clearTimeout(timer);
        reject(new Error(`gateway exited before listening: ${out}`));
      }
    });
  });
}
