-- Reading the archive back (issue #17 §5, src/postgres/history-store.ts). CallSids are
-- compared byte-wise (COLLATE "C") wherever they break ties, as the gateway compares them
-- in memory when it merges PostgreSQL with Redis, whatever the database's own collation.

-- GET …/calls pages ended calls newest first by (settled_at, call_sid).
CREATE INDEX calls_by_settled_sid ON calls (account_id, settled_at DESC, call_sid COLLATE "C" DESC);
-- GET …/calls/export walks a window of end instants by (ended_at, call_sid).
CREATE INDEX calls_by_end_sid ON calls (account_id, ended_at, call_sid COLLATE "C");
-- GET …/usage sums the calls booked in one cycle (R16).
CREATE INDEX calls_by_cycle ON calls (account_id, cycle_start);
-- The two indexes above cover what these did.
DROP INDEX IF EXISTS calls_by_settled;
DROP INDEX IF EXISTS calls_by_end;
