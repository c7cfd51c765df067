// What the softphone needs of a Twilio Voice SDK Device, and where it comes from: the real
// @twilio/voice-sdk Device everywhere, except in `npm run demo`, whose gateway says in
// /app/config.json where the demo's fake Twilio is (scripts/demo/fake-twilio.ts) — then a
// Device-shaped object that places the call through it (demo-device.ts).

export interface SoftphoneCall {
  on(event: 'accept' | 'disconnect', listener: () => void): unknown;
  on(event: 'error', listener: (e: { message?: string }) => void): unknown;
  disconnect(): void;
}

export interface SoftphoneDevice {
  connect(o: { params: Record<string, string> }): Promise<SoftphoneCall>;
  destroy(): void;
}

/** Makes a Device for a Voice SDK access token (the gateway's POST …/voice-token). */
export type DeviceFactory = (voiceToken: string) => Promise<SoftphoneDevice>;

/** Twilio's Device, loaded on the first call only: the SDK is most of the page's weight. */
export const twilioDevice: DeviceFactory = async (voiceToken) => {
  const { Device } = await import('@twilio/voice-sdk');
  return new Device(voiceToken, { logLevel: 'error' }) as unknown as SoftphoneDevice;
};

/** The Device this gateway's softphone uses: the demo's only when the gateway names one. */
export async function deviceFactory(): Promise<{ make: DeviceFactory; demo: boolean }> {
  const config = await fetch('/app/config.json')
    .then((r) => r.json() as Promise<{ demoTwilio?: unknown }>)
    .catch(() => ({ demoTwilio: undefined }));
  if (typeof config.demoTwilio === 'string' && /^https?:\/\/[^/]+$/.test(config.demoTwilio)) {
    const { demoDevice } = await import('./demo-device.js');
    return { make: demoDevice(config.demoTwilio), demo: true };
  }
  return { make: twilioDevice, demo: false };
}
