// Twilio Video room callbacks as Twilio sends them (status callbacks of a room).
let n = 0;

/** A Twilio-shaped SID with the given prefix (RM room, PA participant), unique in the run. */
export const videoSid = (prefix: string) => `${prefix}${(Date.now() * 1000 + n++).toString(16).padStart(32, '0')}`;

export const videoEvent = (e: string, room: string, participant: string, identity: string, duration?: number) => ({
  AccountSid: 'AC00000000000000000000000000000000',
  RoomName: 'support-call',
  RoomSid: room,
  RoomStatus: 'in-progress',
  RoomType: 'group',
  StatusCallbackEvent: e,
  ParticipantSid: participant,
  ParticipantStatus: e === 'participant-connected' ? 'connected' : 'disconnected',
  ParticipantIdentity: identity,
  Timestamp: new Date().toISOString(),
  SequenceNumber: String(n),
  ...(duration === undefined ? {} : { ParticipantDuration: String(duration) }),
});
