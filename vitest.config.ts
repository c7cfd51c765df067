import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start servers and private Redis instances; files run in
    // parallel workers but each uses its own key prefix and its own ports.
    pool: 'forks',
  },
});
