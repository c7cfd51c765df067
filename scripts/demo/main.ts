// npm run demo [-- --port 8080]: the whole product on this machine without a Twilio
// account. Builds the web app, starts the gateway in development mode (every secret
// generated for this run, including a local Twilio auth token and a made-up Twilio
// account, API key and TwiML App), the demo's fake Twilio beside it (fake-twilio.ts: the
// softphone page dials through it, and it plays Twilio's webhooks for those calls), a
// local mail sink that keeps every receipt and alert e-mail as a file, a demo account with
// three staff and a test card, prints the sign-in link, then trickles simulated calls
// (scripts/simulate's calls, signed like Twilio's, played at human pace) so the counter
// and the calls lists move. Ctrl-C stops it and removes the demo's keys from Redis.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { buildWeb } from '../build-web.mjs';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { connectRedis, createRedis } from '../../src/redis/client.js';
import { startGateway } from '../../src/gateway.js';
import { GatewayClient, ok } from '../simulate/gateway-client.js';
import { callbackPath, readTwiml } from '../simulate/twiml-urls.js';
import { drawCall, rng } from '../simulate/scenario.js';
import { deleteDemoKeys, demoArgs, type DemoArgs } from './args.js';
import { demoTwilioEnv, demoTwilioSettings, startFakeTwilio } from './fake-twilio.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line: string) => process.stderr.write(`${line}\n`);

/** A local SMTP server that accepts every mail (receipts, low-balance alerts), keeps each
 *  whole as a numbered .eml file in `dir` (any mail reader opens it; it is plain text) and
 *  says what it was, who it was for and where it is. */
async function mailSink(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  await mkdir(dir, { recursive: true });
  let count = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 1024 * 1024,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const head = raw.subarray(0, 8192).toString('utf8');
        const subject = /^Subject: (.*)$/m.exec(head)?.[1]?.trim() ?? '(no subject)';
        const kind = /receipt/i.test(subject) ? 'receipt' : /minutes/i.test(subject) ? 'alert' : 'mail';
        const file = join(dir, `${String(++count).padStart(3, '0')}-${kind}.eml`);
        // Written aside and renamed: a reader never finds a half-written mail.
        writeFile(`${file}.part`, raw)
          .then(() => rename(`${file}.part`, file))
          .then(
            () => {
              say(`  ✉  "${subject}" to ${session.envelope.rcptTo.map((r) => r.address).join(', ')} → ${file}`);
              done();
            },
            (err: Error) => done(err),
          );
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
  const twilioAuthToken = randomBytes(24).toString('base64url');
  const prefix = `mgdemo-${randomBytes(3).toString('hex')}`;
  const mailDir = args.mailDir ?? join(tmpdir(), `minutegate-demo-mail-${prefix.slice('mgdemo-'.length)}`);
  const mail = await mailSink(mailDir);
  // The demo's Twilio: made-up account, API key and TwiML App, and a server that plays
  // Twilio's part of the softphone's calls. Voice tokens are minted with the made-up key;
  // the gateway's REST reads of Twilio go to the fake server, never to twilio.com.
  const twilioSettings = demoTwilioSettings();
  const twilio = await startFakeTwilio({ settings: twilioSettings, authToken: twilioAuthToken, host: args.host, say });
  // ADMIN_API_KEY and STAFF_TOKEN_SECRET are left unset on purpose: the config generates
  // them (development mode, which also offers the test card in the app).
  const config = loadConfig({
    REDIS_URL: args.redisUrl,
    REDIS_PREFIX: prefix,
    TWILIO_AUTH_TOKEN: twilioAuthToken,
    ...demoTwilioEnv(twilioSettings, twilio.url),
    SMTP_URL: mail.url,
    RECEIPT_FROM: 'minutegate demo <receipts@demo.localhost>',
    LOG_LEVEL: 'warn',
  });
  const redis = createRedis(config.redis);
  await connectRedis(redis, config.redis);
  const gw = await startGateway(
    { config, redis, log: createLogger('warn', (l) => process.stderr.write(l)), demoTwilioUrl: twilio.url },
    args.port,
    args.host,
  );
  const base = `http://${args.host === '0.0.0.0' ? '127.0.0.1' : args.host}:${gw.port}`;
  // No PUBLIC_BASE_URL: the gateway checks signatures against each request's own URL,
  // which is what the simulator and the fake Twilio sign.
  twilio.attach({ url: base });
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
    `\n  Softphone: ${base}/app/phone (same tab, after the link above) dials through the demo's\n` +
      `  stand-in for Twilio (${twilio.url}): the number answers after a ring, the call lasts\n` +
      `  until you hang up, and the counter moves by its billed minutes when it ends.\n` +
      `  Admin API key: ${config.adminApiKey}\n` +
      `  Simulated calls: one every ${args.everySeconds} s or so (signed with a local Twilio auth token).\n` +
      `  Receipts and alert e-mails are kept as files in ${mailDir}\n` +
      `  Ctrl-C stops the demo and removes its keys.\n${bar}`,
  );

  let stopping = false;
  const active = new Set<Promise<void>>();
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('\n  stopping the demo…');
    await Promise.race([Promise.all(active), sleep(3000)]);
    await twilio.close();
    await gw.close();
    await deleteDemoKeys(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await mail.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  // The simulator's calls, played in real time: each callback is sent when its Timestamp
  // says, so a call rings and talks as long as it is billed for — a simulated call lasts as
  // long as it appears to (the app's timers and the minutes agree). --hold bounds a call's
  // length (ringing and talk) so that one is over within minutes.
  const random = rng(args.seed);
  const rules = { minBillableSeconds: config.metering.minBillableSeconds, billingIncrementSeconds: config.metering.billingIncrementSeconds };
  const play = async () => {
    // Twilio's Timestamps name whole seconds: the call starts on one, so each callback's
    // Timestamp is exactly when it is sent.
    const at = Math.ceil(Date.now() / 1000) * 1000;
    await sleep(at - Date.now());
    if (stopping) return;
    const call = drawCall(random, { staff, number, rules, at, maxSeconds: args.holdSeconds });
    const v = await client.twilio('/twilio/voice', call.voice);
    const twiml = readTwiml(v.text);
    if (twiml.kind !== 'dial') {
      say(`  ✗  ${call.kind} call denied: no minutes left (buy more in the app)`);
      return;
    }
    // The <Dial action> has no Timestamp: it follows the legs' last callback at once. Due
    // then, not at once: the simulator may swap it ahead of the leg's completion (two
    // requests in flight), and sent early it would bill a talk that has not happened yet.
    const legsDone = Math.max(0, ...call.signals.filter((s) => s.ParentCallSid && s.Timestamp).map((s) => Date.parse(s.Timestamp!)));
    for (const s of call.signals) {
      if (stopping) return;
      const due = s.Timestamp ? Date.parse(s.Timestamp) : legsDone;
      while (!stopping && Date.now() < due) await sleep(Math.min(250, due - Date.now()));
      if (stopping) return;
      // Where Twilio sends it: the URLs the TwiML named, or the TwiML App's Status Callback.
      await client.twilio(callbackPath(client.publicBaseUrl, twiml, s), s);
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
