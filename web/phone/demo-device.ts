// The Device of `npm run demo`: shaped like @twilio/voice-sdk's (connect({params}) → a Call
// with accept / error / disconnect events and disconnect()), it asks the demo's fake Twilio
// (scripts/demo/fake-twilio.ts) to place the call over one WebSocket per call: the invite
// carries the gateway's voice token and the params, as the SDK's does. The fake plays
// Twilio's webhooks to the gateway; the call is up until disconnect() (or the page goes:
// a dropped socket ends the call, as a dropped WebRTC leg does).
import type { DeviceFactory, SoftphoneCall, SoftphoneDevice } from './device.js';

type Listener = (e: { message?: string }) => void;

type FakeMessage =
  | { type: 'ringing' | 'accepted'; callSid: string }
  | { type: 'rejected'; message: string }
  | { type: 'ended'; talkSeconds: number };

class DemoCall implements SoftphoneCall {
  private readonly listeners = new Map<string, Listener[]>();
  private ended = false;

  constructor(private readonly ws: WebSocket) {
    ws.onmessage = (ev) => {
      let m: FakeMessage;
      try {
        m = JSON.parse(String(ev.data)) as FakeMessage;
      } catch {
        return;
      }
      if (m.type === 'accepted') this.emit('accept');
      if (m.type === 'rejected') this.emit('error', { message: m.message });
    };
    ws.onclose = () => this.finish();
    ws.onerror = () => this.emit('error', { message: "the demo's Twilio is not reachable" });
  }

  on(event: 'accept' | 'disconnect' | 'error', listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  /** Hangs up: the fake Twilio ends the call and closes the socket, which ends this call. */
  disconnect(): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'hangup' }));
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('disconnect');
  }

  private emit(event: string, e?: { message?: string }): void {
    for (const l of this.listeners.get(event) ?? []) l(e ?? {});
  }
}

export function demoDevice(origin: string): DeviceFactory {
  return async (voiceToken) => {
    const sockets = new Set<WebSocket>();
    const device: SoftphoneDevice = {
      async connect({ params }) {
        const ws = new WebSocket(`${origin.replace(/^http/, 'ws')}/v1/device`);
        sockets.add(ws);
        ws.addEventListener('close', () => sockets.delete(ws));
        ws.addEventListener('open', () => ws.send(JSON.stringify({ type: 'invite', token: voiceToken, params })));
        return new DemoCall(ws);
      },
      destroy() {
        for (const ws of sockets) ws.close();
      },
    };
    return device;
  };
}
