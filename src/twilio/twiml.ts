// TwiML written by hand: three fixed shapes, escaped, no XML builder on the hot path.
// No <Dial timeLimit> is ever written: the gateway never limits a call by balance (R3).

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>';
const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ESC[ch]!);
}

export const EMPTY_RESPONSE = `${XML_HEAD}<Response/>`;

/** `<Reject>` as the first verb: Twilio does not answer, so it does not bill the call. */
export function rejectTwiml(reason: 'rejected' | 'busy' = 'rejected'): string {
  return `${XML_HEAD}<Response><Reject reason="${reason}"/></Response>`;
}

import type { DialTarget } from '../domain/dial-target.js';
export type { DialTarget };

export interface DialOptions {
  /** Absolute URL of /twilio/status, with its query (callback-url.ts): the <Dial action>
   *  and every noun's statusCallback. Escaped here (an "&" of a query becomes "&amp;"). */
  statusUrl: string;
  callerId?: string;
  targets: DialTarget[];
  /** Optional <Start><Stream> so Media Streams marks the call live (issue 3). */
  stream?: { url: string; parameters: Record<string, string> };
}

export function dialTwiml(o: DialOptions): string {
  const cb = xmlEscape(o.statusUrl);
  const nounAttrs = `statusCallback="${cb}" statusCallbackEvent="initiated ringing answered completed" statusCallbackMethod="POST"`;
  const nouns = o.targets
    .map((t) =>
      t.kind === 'number'
        ? `<Number ${nounAttrs}>${xmlEscape(t.value)}</Number>`
        : `<Client ${nounAttrs}>${xmlEscape(t.value)}</Client>`,
    )
    .join('');
  const callerId = o.callerId ? ` callerId="${xmlEscape(o.callerId)}"` : '';
  let start = '';
  if (o.stream) {
    const params = Object.entries(o.stream.parameters)
      .map(([name, value]) => `<Parameter name="${xmlEscape(name)}" value="${xmlEscape(value)}"/>`)
      .join('');
    start = `<Start><Stream url="${xmlEscape(o.stream.url)}">${params}</Stream></Start>`;
  }
  return `${XML_HEAD}<Response>${start}<Dial action="${cb}" method="POST"${callerId}>${nouns}</Dial></Response>`;
}
