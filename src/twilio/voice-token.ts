// Twilio Voice SDK access tokens (VoiceGrant) for a staff member's softphone, signed with
// the API key secret. Only available when all four Twilio API settings are configured.
import twilio from 'twilio';
import { AppError } from '../domain/errors.js';

export interface VoiceTokenSettings {
  accountSid: string | null;
  apiKeySid: string | null;
  apiKeySecret: string | null;
  twimlAppSid: string | null;
}

const TTL_SECONDS = 3600;

export class VoiceTokens {
  constructor(private readonly s: VoiceTokenSettings) {}

  get configured(): boolean {
    return Boolean(this.s.accountSid && this.s.apiKeySid && this.s.apiKeySecret && this.s.twimlAppSid);
  }

  mint(identity: string): { token: string; identity: string; expiresAt: string } {
    if (!this.configured) {
      throw new AppError(
        503,
        'NOT_CONFIGURED',
        'voice tokens need TWILIO_ACCOUNT_SID, TWILIO_API_KEY_SID, TWILIO_API_KEY_SECRET and TWILIO_TWIML_APP_SID',
      );
    }
    const { AccessToken } = twilio.jwt;
    const t = new AccessToken(this.s.accountSid!, this.s.apiKeySid!, this.s.apiKeySecret!, { identity, ttl: TTL_SECONDS });
    t.addGrant(new AccessToken.VoiceGrant({ outgoingApplicationSid: this.s.twimlAppSid!, incomingAllow: true }));
    return { token: t.toJwt(), identity, expiresAt: new Date(Date.now() + TTL_SECONDS * 1000).toISOString() };
  }
}
