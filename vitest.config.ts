import { defineConfig, type ViteUserConfig } from 'vitest/config';
import LongestFirst from './test/support/sequencer.js';

// @minutegate/client (the packages/client workspace) resolves to its TypeScript source in
// tests (its package.json "exports" condition "minutegate-source"); users get dist/.
const resolution: Pick<ViteUserConfig, 'resolve' | 'ssr'> = {
  resolve: { conditions: ['minutegate-source', 'module', 'browser', 'development|production'] },
  ssr: { resolve: { conditions: ['minutegate-source', 'module', 'node', 'development|production'], externalConditions: ['minutegate-source'] } },
};

// What both projects share. The worker count is set once, below, for both: projects with
// different counts would run one after the other, leaving cores idle.
const shared = {
  testTimeout: 30_000,
  // expect.poll waits 1 s by default: too little for a browser signing in while other
  // test files load both cores. Latency claims set their own timeout.
  expect: { poll: { timeout: 5_000 } },
  hookTimeout: 60_000,
  pool: 'forks',
  // Longest files first even in a fresh clone (no vitest cache): test/support/sequencer.ts.
  sequence: { sequencer: LongestFirst },
} as const;

export default defineConfig({
  ...resolution,
  test: {
    ...shared,
    // Files run in parallel workers, each with its own key prefix, database and ports. They
    // mostly wait (on sockets, Redis, PostgreSQL, child processes), so more workers than
    // cores pays: vitest's own default on this 2-core machine is one worker, the whole suite
    // in series. `--maxWorkers=1` (or VITEST_MAX_WORKERS=1) still runs it in series.
    maxWorkers: 4,
    // Once per run, whatever the projects: global-redis starts a private redis-server when
    // none answers on TEST_REDIS_URL (default 127.0.0.1:6379), so `npm test` needs only the
    // redis-server binary; global-postgres checks PostgreSQL answers; global-setup bundles
    // the web app into dist/web/ while it starts the run's one Redis Cluster.
    globalSetup: ['test/support/global-redis.ts', 'test/support/global-postgres.ts', 'test/support/global-setup.ts'],
    projects: [
      {
        ...resolution,
        test: {
          ...shared,
          name: 'node',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/browser/**'],
          // A worker keeps the modules it imported from one file to the next (each file still
          // runs afresh): importing the gateway, vitest and their dependencies again for every
          // file was half the suite's CPU time. Nothing in src/ or test/support/ keeps state
          // between gateways, and no test mocks a module or a global.
          isolate: false,
        },
      },
      {
        // The web app in headless Chromium (`npx vitest run --project browser`): its own
        // global setup unpacks the browser, only when one of these files runs.
        ...resolution,
        // Its files too keep a worker's modules (playwright-core, the gateway) from one file
        // to the next: none mocks a module or a global, and each launches its own browser.
        test: { ...shared, name: 'browser', include: ['test/browser/**/*.test.ts'], globalSetup: ['test/support/global-chromium.ts'], isolate: false },
      },
    ],
  },
});
