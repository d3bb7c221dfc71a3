-- The embedded bus: one table of messages for all stages, and the dead-lettered ones.
-- Times are Unix milliseconds. The tables are prefixed `bus_` because they may share
-- the store's file (see `EmbeddedBus`). (Files written before that named them
-- `messages` and `dead_letters`; they are renamed when opened.)

CREATE TABLE bus_messages (
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
CREATE INDEX bus_messages_ready ON bus_messages (stage, available_at, seq);

CREATE TABLE bus_dead_letters (
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
