-- Calls the gateway refused at placement (issue #20: the app lists them as not connected,
-- and why): informational, not money — written a second after the refusal, in batches
-- (history/refusal-log.ts), never on the webhook's path. Kept HISTORY_RETENTION_MONTHS like
-- the rest of the history, by monthly partitions of `refused_at`.
CREATE TABLE refused_calls (
  account_id   text        NOT NULL,
  call_sid     text        NOT NULL,
  direction    text        NOT NULL,
  from_number  text        NOT NULL,
  to_number    text        NOT NULL,
  staff_id     text,
  -- no_minutes, destination_not_allowed (the voice webhook's reasons)
  reason       text        NOT NULL,
  refused_at   timestamptz NOT NULL,
  PRIMARY KEY (account_id, call_sid, refused_at)
) PARTITION BY RANGE (refused_at);

CREATE INDEX refused_calls_newest ON refused_calls (account_id, refused_at DESC, call_sid COLLATE "C" DESC);
