// The process: configuration, Redis, the gateway (gateway.ts, the composition root),
// signals — `node dist/main.js`. Every start-up failure is one line on stderr and a
// non-zero exit; SIGTERM drains (DRAIN_DELAY_SECONDS), SIGINT stops at once.
import { pathToFileURL } from 'node:url';
import { ConfigError, loadConfig } from './config.js';
import { startGateway, type RunningGateway } from './gateway.js';
import { ListenError } from './http/listen-error.js';
import { createLogger } from './log.js';
import { exitOnUnhandledFailures } from './process-failures.js';
import { connectRedis, createRedis, redactUrl } from './redis/client.js';
import { warnIfRedisCanEvict } from './redis/eviction-check.js';

/** The process: configuration, Redis, the gateway, signals. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`minutegate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  exitOnUnhandledFailures(log);
  for (const w of config.warnings) log.warn(`configuration: ${w}`);
  if (config.devMode) {
    const bar = '='.repeat(72);
    // Only a generated key is printed: a configured secret never reaches the logs.
    process.stderr.write(
      `${bar}\n  minutegate is running in DEV MODE: secrets were generated for this run only.\n` +
        (config.generated.adminApiKey ? `  ADMIN_API_KEY=${config.adminApiKey}\n` : '') +
        (config.generated.staffTokenSecret ? '  Staff tokens are signed with a random STAFF_TOKEN_SECRET and die with the process.\n' : '') +
        (config.twilio.authToken ? '' : '  TWILIO_AUTH_TOKEN is not set: /twilio/* answers 503 (never unsigned).\n') +
        `  Set NODE_ENV=production and real secrets for anything but a local try-out.\n${bar}\n`,
    );
  }
  const redis = createRedis(config.redis);
  try {
    await connectRedis(redis, config.redis);
  } catch (err) {
    process.stderr.write(`minutegate: ${(err as Error).message}\n`);
    process.exit(1);
  }
  redis.on('error', (err: Error) => log.warn('redis connection error', { err }));
  await warnIfRedisCanEvict(redis, log);
  let gw: RunningGateway;
  try {
    gw = await startGateway({ config, redis, log });
  } catch (err) {
    if (!(err instanceof ListenError)) throw err;
    // One line, as every start-up failure: the port and what to do. A stack would only
    // say where Node noticed.
    process.stderr.write(`minutegate: cannot listen: ${err.message}\n`);
    process.exit(1);
  }
  log.info('minutegate listening', {
    port: gw.port,
    publicBaseUrl: config.publicBaseUrl ?? "(unset: each request's Host header)",
    redis: config.redis.clusterNodes ? 'cluster' : redactUrl(config.redis.url),
    prefix: config.redis.prefix,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    // Stop taking requests, let in-flight ones finish, then drop Redis.
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    // Not ready at once; on SIGTERM keep serving DRAIN_DELAY_SECONDS more so balancers that
    // poll /readyz stop sending work before the listener closes (Ctrl-C skips the wait).
    gw.readiness.startDraining();
    if (signal === 'SIGTERM' && config.drainDelayMs > 0) await new Promise((r) => setTimeout(r, config.drainDelayMs));
    await gw.close();
    await redis.quit().catch(() => redis.disconnect());
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

// Run as the process (node dist/main.js, tsx src/main.ts) — not when imported by tests.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
