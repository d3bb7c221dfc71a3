-- Published messages now leave the outbox when the bus confirms them; earlier versions
-- kept them, marked, forever. Every row left is pending, so the mark and its index go.
DELETE FROM outbox WHERE published_at IS NOT NULL;
DROP INDEX outbox_pending;
ALTER TABLE outbox DROP COLUMN published_at;
