// A private PostgreSQL server for tests that must take the books away (stop it, start it
// again): `initdb` into a temporary folder (run as the postgres user: initdb refuses root)
// and `pg_ctl` on a free port. Trust auth on 127.0.0.1 only; fsync off (a test server).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pickFreePort } from './free-port.js';

export interface PostgresServer {
  port: number;
  /** A URL for `database` on this server (as the postgres user). */
  url(database: string): string;
  stop(): void;
  start(): void;
  /** Stops it for good and removes its folder. */
  destroy(): void;
}

function pgBin(name: string): string {
  const found = spawnSync('sh', ['-c', `ls -d /usr/lib/postgresql/*/bin/${name} 2>/dev/null | sort -V | tail -n1`], { encoding: 'utf8' }).stdout.trim();
  return found || name;
}

function asPostgres(cmd: string, args: string[]): void {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe' });
  else execFileSync(cmd, args, { stdio: 'pipe' });
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'minutegate-test-pg-'));
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  asPostgres(pgBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await pickFreePort();
  const ctl = (verb: 'start' | 'stop') =>
    asPostgres(pgBin('pg_ctl'), verb === 'start'
      ? ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`, 'start']
      : ['-D', data, '-m', 'immediate', '-w', 'stop']);
  ctl('start');
  let running = true;
  return {
    port,
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop() {
      if (running) ctl('stop');
      running = false;
    },
    start() {
      if (!running) ctl('start');
      running = true;
    },
    destroy() {
      try {
        if (running) ctl('stop');
      } catch {
        /* already gone */
      }
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
