// The Redis the test suite runs against: TEST_REDIS_URL, else the developer's local
// server on 127.0.0.1:6379. A separate variable from REDIS_URL on purpose, so a shell
// pointed at a real deployment never sends the suite's keys there.
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL?.trim() || 'redis://127.0.0.1:6379';
