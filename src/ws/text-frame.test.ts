// textFrame builds the exact bytes of an unmasked WebSocket text frame: checked by feeding
// them to ws's own Receiver, which takes only well-formed frames.
import { describe, expect, it } from 'vitest';
import * as ws from 'ws';

// ws exports its frame parser at run time; its type declarations leave it out.
type FrameReceiver = NodeJS.EventEmitter & { write(chunk: Buffer): void };
const Receiver = (ws as unknown as { Receiver: new (o: { isServer: boolean; maxPayload: number }) => FrameReceiver }).Receiver;
import { textFrame } from './client-connection.js';

function receive(frame: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new Receiver({ isServer: false, maxPayload: 0 });
    r.on('message', (data: Buffer, isBinary: boolean) => (isBinary ? reject(new Error('binary')) : resolve(data.toString())));
    r.on('error', reject);
    r.write(frame);
  });
}

describe('textFrame', () => {
  it.each([0, 10, 125, 126, 65_535, 65_536, 70_000])('frames %i bytes, from a string or a Buffer alike', async (n) => {
    // Multi-byte characters: the length is in bytes, not characters.
    const text = 'é'.repeat(Math.floor(n / 2)) + 'x'.repeat(n % 2);
    expect(Buffer.byteLength(text)).toBe(n);
    expect(await receive(textFrame(text))).toBe(text);
    expect(textFrame(Buffer.from(text)).equals(textFrame(text))).toBe(true);
  });
});
