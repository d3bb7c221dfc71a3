-- The embedded bus: one table of messages for all stages, and the dead-lettered ones.
-- Times are Unix milliseconds.

CREATE TABLE messages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    stage        TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    routing_key  TEXT NOT NULL,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL,
    -- Deliveries so far.
    attempts     INTEGER NOT NULL DEFAULT 0,
    -- Not delivered before this time: the publish time, a retry's due time, or the end
    -- of the current lease (visibility timeout).
    available_at INTEGER NOT NULL,
    -- The current lease, while a consumer owns the message.
    lease        INTEGER
);
CREATE INDEX messages_ready ON messages (stage, available_at, seq);

CREATE TABLE dead_letters (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    stage       TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    headers     TEXT NOT NULL,
    body        BLOB NOT NULL,
    attempts    INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    failed_at   INTEGER NOT NULL
);
