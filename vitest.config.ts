import { defineConfig } from 'vitest/config';

export default defineConfig({
  // @minutegate/client (the packages/client workspace) resolves to its TypeScript source
  // in tests (its package.json "exports" condition "minutegate-source"); users get dist/.
  resolve: { conditions: ['minutegate-source', 'module', 'browser', 'development|production'] },
  ssr: { resolve: { conditions: ['minutegate-source', 'module', 'node', 'development|production'], externalConditions: ['minutegate-source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    // expect.poll waits 1 s by default: too little for a browser signing in while other
    // test files load both cores. Latency claims set their own timeout.
    expect: { poll: { timeout: 5_000 } },
    hookTimeout: 60_000,
    // Integration suites start servers and private Redis instances; files run in
    // parallel workers but each uses its own key prefix and its own ports.
    pool: 'forks',
    // global-redis: starts a private redis-server when none answers on TEST_REDIS_URL
    // (default 127.0.0.1:6379), so `npm test` needs only the redis-server binary.
    // global-setup: the web app is bundled into dist/web/ once, before the files run.
    globalSetup: ['test/support/global-redis.ts', 'test/support/global-postgres.ts', 'test/support/global-setup.ts'],
  },
});
