-- The archive (R19, issue #17 §3): every ledger entry and every settled call, written by
-- the archiver (src/jobs/archiver.ts) idempotently — by the entry's stream id and by the
-- CallSid — so any number of instances, or one killed mid-batch and started again, leave
-- each exactly once. Both tables are partitioned by month (the entry's `at`, the call's
-- end) so history older than HISTORY_RETENTION_MONTHS is dropped a partition at a time;
-- partitions are created on demand (postgres/partitions.ts).

CREATE TABLE ledger_entries (
  account_id    text        NOT NULL,
  -- The Redis stream id "<ms>-<seq>"; (id_ms, id_seq) orders an account's ledger.
  entry_id      text        NOT NULL,
  id_ms         bigint      NOT NULL,
  id_seq        bigint      NOT NULL,
  kind          text        NOT NULL,
  -- The signed change of the balance (docs/decisions.md: ledger minutes are signed changes).
  minutes       integer     NOT NULL,
  balance_after integer     NOT NULL,
  ref           text        NOT NULL,
  at            timestamptz NOT NULL,
  -- Every other field of the entry as the ledger stream held it (billedMinutes, reason…).
  extra         jsonb       NOT NULL DEFAULT '{}',
  archived_at   timestamptz NOT NULL DEFAULT now(),
  -- A partitioned table's key must hold the partition key; an entry's `at` never changes,
  -- so this is unique per (account, entry id).
  PRIMARY KEY (account_id, entry_id, at)
) PARTITION BY RANGE (at);

CREATE INDEX ledger_entries_order ON ledger_entries (account_id, id_ms, id_seq);

-- One row per settled call (R4/R5): its call detail record.
CREATE TABLE calls (
  account_id       text        NOT NULL,
  call_sid         text        NOT NULL,
  direction        text        NOT NULL,
  from_number      text        NOT NULL,
  to_number        text        NOT NULL,
  staff_id         text,
  emergency        boolean     NOT NULL DEFAULT false,
  placed_at        timestamptz NOT NULL,
  answered_at      timestamptz,
  -- When the call ended (its terminal callback's Timestamp, R16), else when it settled.
  ended_at         timestamptz NOT NULL,
  -- When the gateway settled it (the ended-calls order of GET …/calls).
  settled_at       timestamptz NOT NULL,
  reserved_minutes integer     NOT NULL,
  billable_seconds integer     NOT NULL,
  billed_minutes   integer     NOT NULL,
  debited_minutes  integer     NOT NULL,
  overage_minutes  integer     NOT NULL,
  -- The start of the cycle the call was booked in (R16).
  cycle_start      timestamptz NOT NULL,
  -- The dialled legs as the gateway recorded them (sid, status, seconds, answered…).
  legs             jsonb       NOT NULL DEFAULT '[]',
  -- The call_debit ledger entry that settled it (archived in the same transaction).
  ledger_entry_id  text        NOT NULL,
  archived_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, call_sid, ended_at)
) PARTITION BY RANGE (ended_at);

CREATE INDEX calls_by_settled ON calls (account_id, settled_at DESC, call_sid);
CREATE INDEX calls_by_end ON calls (account_id, ended_at);
CREATE INDEX calls_by_sid ON calls (call_sid);
