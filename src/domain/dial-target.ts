// Who a call's <Dial> rings: decided by metering (calls.ts), written as TwiML by twilio/.
export interface DialTarget {
  kind: 'number' | 'client';
  /** E.164 number (or an emergency number) or softphone identity. */
  value: string;
}
