-- The journal of what customers and operators set up or pay for (R19, issue #17 §2): every
-- such write is committed here, in one transaction, before the gateway answers; then it is
-- applied to the live pool in Redis, strictly in this order per account (under an advisory
-- lock of the account), and marked applied with what Redis answered. A write committed
-- and not applied yet (the instance died in between) is applied by the replayer.
CREATE TABLE writes (
  seq         bigserial   PRIMARY KEY,
  account_id  text        NOT NULL,
  -- create_account, add_staff, remove_staff, revoke_tokens, add_numbers, adjust,
  -- change_plan, set_alerts, add_card, remove_card, quote, purchase, end_addon
  kind        text        NOT NULL,
  -- Everything needed to apply it again exactly as the first time (ids, the request's instant).
  payload     jsonb       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  applied_at  timestamptz,
  -- What the live pool answered (a refusal too: an adjustment beyond the balance, an expired quote).
  outcome     jsonb
);

-- The replayer's question: which accounts have writes not applied yet.
CREATE INDEX writes_pending ON writes (account_id, seq) WHERE applied_at IS NULL;
-- History and restore read an account's writes of a kind in order.
CREATE INDEX writes_by_account ON writes (account_id, kind, seq);
