// Phase `bare`: the same voice bodies against the bare ceiling (bare-ceiling.mjs).
import type { Child } from '../lib/processes.js';
import { POOL_PER_SECOND, pooled, voiceBody } from './bodies.js';
import { log, opts } from './context.js';
import { runPhase, type PhaseResult } from './load.js';
import { bad, samples } from './voice.js';

export async function barePhase(bare: Child): Promise<PhaseResult> {
  const bareSpec = {
    label: 'bare',
    port: bare.port,
    pid: bare.proc.pid,
    path: '/twilio/voice',
    connections: opts.connections,
    next: voiceBody,
    onReply(_sid: string, status: number, body: string) {
      if (status === 200 && !body.includes('<Dial')) {
        bad.bare++;
        samples.bare ??= `${status} ${body.slice(0, 200)}`;
      }
    },
  };
  log(`bare: warm-up ${opts.warmup} s`);
  await runPhase({ ...bareSpec, duration: opts.warmup });
  log(`bare: measuring ${opts.duration} s`);
  return runPhase({ ...bareSpec, next: pooled(voiceBody, POOL_PER_SECOND * opts.duration), duration: opts.duration });
}
