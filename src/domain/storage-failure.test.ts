import { expect, it } from 'vitest';
import { isStorageFailure } from './storage-failure.js';

// Redis's own wording of each refusal (server.c / script.c, Redis 7), as ioredis hands it on.
it('names a Redis that is away or refuses to write, and nothing else', () => {
  for (const m of [
    'Connection is closed.',
    'connect ECONNREFUSED 127.0.0.1:6390',
    "OOM command not allowed when used memory > 'maxmemory'.",
    "OOM command not allowed when used memory > 'maxmemory'. script: 5f0b..., on @user_script:12.",
    'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
    "READONLY You can't write against a read only replica.",
    'NOREPLICAS Not enough good replicas to write.',
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    'TRYAGAIN Multiple keys request during rehashing of slot',
    'BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.',
  ]) {
    expect(isStorageFailure(new Error(m)), m).toBe(true);
  }
  for (const m of ['ERR wrong number of arguments for', 'BUSYKEY Target key name already exists.', 'NOSCRIPT No matching script', 'boom']) {
    expect(isStorageFailure(new Error(m)), m).toBe(false);
  }
  expect(isStorageFailure('OOM command not allowed')).toBe(false); // not an Error
});
