-- Published messages now leave the outbox when the bus confirms them; earlier versions
-- kept them, marked, forever.
DELETE FROM outbox WHERE published_at IS NOT NULL;
