// R18 and Media Streams' place in metering: a stream's start marks its call live (one
// "call started" event per call, shared with the answer signal) and its stop notes the
// time; neither ever debits. The transport (twilio/media-streams.ts) has already bound the
// socket to one call by its token; this records what the stream says about that call.
import type { PoolStore } from '../redis/pool-store.js';

export type MediaStreamOutcome = 'recorded' | 'repeated' | 'unknown_call' | 'busy';

export class MediaStreamEvents {
  constructor(
    private readonly store: PoolStore,
    private readonly clock: () => number,
  ) {}

  /** `connectionId`: the socket the stream arrived on (one open stream per call, R18). */
  record(
    call: { accountId: string; callSid: string },
    event: 'start' | 'stop',
    streamSid: string,
    customParameters: Record<string, string>,
    connectionId: string,
  ): Promise<MediaStreamOutcome> {
    return this.store.recordMediaStream(call.accountId, call.callSid, event, streamSid, customParameters, this.clock(), connectionId);
  }
}
