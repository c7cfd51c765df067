// The Redis the test suite runs against: TEST_REDIS_URL; else REDIS_URL when it names a
// server on this machine; else 127.0.0.1:6379. A REDIS_URL pointing elsewhere (a shell set
// up for a real deployment) is ignored, so the suite's keys never land there.
const LOCAL = new Set(['127.0.0.1', 'localhost', '[::1]']);

function localRedisUrl(v: string | undefined): string | null {
  if (!v?.trim()) return null;
  try {
    return LOCAL.has(new URL(v.trim()).hostname) ? v.trim() : null;
  } catch {
    return null;
  }
}

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL?.trim() || localRedisUrl(process.env.REDIS_URL) || 'redis://127.0.0.1:6379';
