// npm run demo [-- --port 8080]: the whole product on this machine without a Twilio
// account. Builds the web app, starts the gateway in development mode (every secret
// generated for this run, including a local Twilio auth token that only the call simulator
// knows), a local mail sink for receipts, a demo account with three staff and a test card,
// prints the sign-in link, then trickles simulated calls (scripts/simulate's calls, signed
// like Twilio's, played at human pace) so the counter and the calls lists move.
// Ctrl-C stops it and removes the demo's keys from Redis.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { buildWeb } from '../build-web.mjs';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { connectRedis, createRedis } from '../../src/redis/client.js';
import { startGateway } from '../../src/main.js';
import { GatewayClient, ok } from '../simulate/gateway-client.js';
import { drawCall, rng } from '../simulate/scenario.js';
import { deleteDemoKeys, demoArgs, type DemoArgs } from './args.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

/** A local SMTP server that accepts every mail (receipts, low-balance alerts) and says
 *  what it was and who it was for. */
async function mailSink(): Promise<{ url: string; close(): Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, done) {
      let head = '';
      stream.on('data', (c: Buffer) => {
        if (head.length < 8192) head += c.toString('utf8');
      });
      stream.on('end', () => {
        const subject = /^Subject: (.*)$/m.exec(head)?.[1]?.trim() ?? '(no subject)';
        say(`  ✉  "${subject}" to ${session.envelope.rcptTo.map((r) => r.address).join(', ')} (kept local)`);
        done();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  return { url: `smtp://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

async function main(args: DemoArgs): Promise<void> {
  if (args.build) await buildWeb();
  const mail = await mailSink();
  const twilioAuthToken = randomBytes(24).toString('base64url');
  const prefix = `mgdemo-${randomBytes(3).toString('hex')}`;
  // ADMIN_API_KEY and STAFF_TOKEN_SECRET are left unset on purpose: the config generates
  // them (development mode, which also offers the test card in the app).
  const config = loadConfig({
    REDIS_URL: args.redisUrl,
    REDIS_PREFIX: prefix,
    TWILIO_AUTH_TOKEN: twilioAuthToken,
    SMTP_URL: mail.url,
    RECEIPT_FROM: 'minutegate demo <receipts@demo.localhost>',
    LOG_LEVEL: 'warn',
  });
  const redis = createRedis(config.redis);
  await connectRedis(redis, config.redis);
  const gw = await startGateway({ config, redis, log: createLogger('warn', (l) => process.stderr.write(l)) }, args.port, args.host);
  const base = `http://${args.host === '0.0.0.0' ? '127.0.0.1' : args.host}:${gw.port}`;
  // No PUBLIC_BASE_URL: the gateway checks signatures against each request's own URL,
  // which is what the simulator signs.
  const client = new GatewayClient(base, base, twilioAuthToken, config.adminApiKey);

  const id = `demo-${randomBytes(2).toString('hex')}`;
  const number = '+15550100100';
  const staff = ['ana', 'ben', 'cy'].map((s) => ({ id: s, email: `${s}@${id}.example`, identity: `${id}_${s}` }));
  const path = { id };
  await ok('demo account', client.api.POST('/v1/accounts', { body: { id, name: 'Demo Dental', monthlyMinutes: args.minutes, staff, phoneNumbers: [number] } }));
  const card = {
    processorToken: `tok_test_${randomBytes(6).toString('hex')}`,
    brand: 'visa',
    last4: '4242',
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 3,
  };
  await ok('demo card', client.api.POST('/v1/accounts/{id}/payment-methods', { params: { path }, body: card }));
  const token = await ok('staff token', client.api.POST('/v1/accounts/{id}/staff/{staffId}/token', { params: { path: { id, staffId: 'ana' } }, body: {} }));

  const bar = '='.repeat(72);
  say(
    `${bar}\n  minutegate demo — development mode, secrets generated for this run only\n\n` +
      `  Open the app (signed in as ana of "${id}"):\n`,
  );
  // The link alone on stdout, so scripts can read it.
  process.stdout.write(`${base}/app#token=${token.token}\n`);
  say(
    `\n  Softphone example: ${base}/app/phone (same tab, after the link above)\n` +
      `  Admin API key: ${config.adminApiKey}\n` +
      `  Simulated calls: one every ${args.everySeconds} s or so (signed with a local Twilio auth token);\n` +
      `  receipts go to a local mail sink. Ctrl-C stops the demo and removes its keys.\n${bar}`,
  );

  let stopping = false;
  const active = new Set<Promise<void>>();
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('\n  stopping the demo…');
    await Promise.race([Promise.all(active), sleep(3000)]);
    await gw.close();
    await deleteDemoKeys(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await mail.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  // The simulator's calls, played at human pace: ringing, then talking for a while
  // (at most args.holdSeconds of real time; the billed duration is the drawn one).
  const random = rng(args.seed);
  const rules = { minBillableSeconds: config.metering.minBillableSeconds, billingIncrementSeconds: config.metering.billingIncrementSeconds };
  const play = async () => {
    const call = drawCall(random, { staff, number, rules, at: Date.now() });
    const v = await client.twilio('/twilio/voice', call.voice);
    if (!v.text.includes('<Dial')) {
      say(`  ✗  ${call.kind} call denied: no minutes left (buy more in the app)`);
      return;
    }
    const hold = Math.min(args.holdSeconds, Math.max(3, call.talkSeconds / 20)) * 1000;
    let answered = false;
    for (const s of call.signals) {
      if (stopping) return;
      if (!answered && s.CallStatus === 'completed' && s.ParentCallSid && call.answered && Number(s.CallDuration) > 0) {
        answered = true;
        await sleep(hold);
      }
      await client.twilio('/twilio/status', s);
      await sleep(150);
    }
    say(`  ☎  ${call.kind} call ${call.answered ? `talked ${call.talkSeconds} s → ${call.expectedMinutes} min` : 'not answered'}`);
  };
  while (!stopping) {
    const p: Promise<void> = play().catch((err: Error) => void say(`  !  simulated call failed: ${err.message}`));
    active.add(p);
    void p.finally(() => active.delete(p));
    await sleep(args.everySeconds * 1000 * (0.5 + random()));
  }
}

let parsed: DemoArgs;
try {
  parsed = demoArgs(process.argv.slice(2), process.env);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
}
main(parsed).catch((err: unknown) => {
  process.stderr.write(`demo: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  process.exit(1);
});
