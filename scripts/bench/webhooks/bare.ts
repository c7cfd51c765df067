// Phase `bare`: the same voice bodies against the bare ceiling (bare-ceiling.mjs).
import { join } from 'node:path';
import { startServer, type Child } from '../lib/processes.js';
import { PUBLIC_BASE_URL, REDIS_URL, ROOT } from '../lib/util.js';
import { POOL_PER_SECOND, pooled, voiceBody } from './bodies.js';
import { ID, log, opts } from './context.js';
import { runPhase, type PhaseResult } from './load.js';
import { bad, samples } from './voice.js';

/** The bare ceiling, on the run's Redis prefix and Twilio auth token. */
export function startBare(): Promise<Child> {
  return startServer({
    name: 'bare ceiling',
    script: join(ROOT, 'scripts', 'bench', 'webhooks', 'bare-ceiling.mjs'),
    env: { REDIS_URL, REDIS_PREFIX: ID.prefix, TWILIO_AUTH_TOKEN: ID.authToken, PUBLIC_BASE_URL },
    readyPath: '/healthz',
    log,
  });
}

/** The voice load against the bare ceiling; an answer without a <Dial> is counted bad. */
export function bareSpec(bare: Child, next = voiceBody) {
  return {
    label: 'bare' as const,
    port: bare.port,
    pid: bare.proc.pid,
    path: '/twilio/voice',
    connections: opts.connections,
    next,
    onReply(_sid: string, status: number, body: string) {
      if (status === 200 && !body.includes('<Dial')) {
        bad.bare++;
        samples.bare ??= `${status} ${body.slice(0, 200)}`;
      }
    },
  };
}

export async function barePhase(bare: Child): Promise<PhaseResult> {
  log(`bare: warm-up ${opts.warmup} s`);
  await runPhase({ ...bareSpec(bare), duration: opts.warmup });
  log(`bare: measuring ${opts.duration} s`);
  return runPhase({ ...bareSpec(bare, pooled(voiceBody, POOL_PER_SECOND * opts.duration)), duration: opts.duration });
}
