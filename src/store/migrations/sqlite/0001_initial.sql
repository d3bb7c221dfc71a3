-- The store's tables. Times are integer microseconds since the Unix epoch, ids
-- hyphenated UUID text.

CREATE TABLE raw_messages (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    partner     TEXT NOT NULL,
    format      INTEGER NOT NULL,
    dedupe_key  TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    metadata    TEXT NOT NULL,
    body        BLOB NOT NULL,
    UNIQUE (tenant, dedupe_key)
);

CREATE TABLE processed (
    consumer     TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    processed_at INTEGER NOT NULL,
    PRIMARY KEY (consumer, message_id)
) WITHOUT ROWID;

CREATE TABLE state (
    tenant  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    version INTEGER NOT NULL,
    value   TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, key)
) WITHOUT ROWID;

CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (tenant, subject, seq);

CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    stage        TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    routing_key  TEXT NOT NULL,
    headers      TEXT NOT NULL,
    body         BLOB NOT NULL,
    published_at INTEGER
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE control_sequences (
    partner  TEXT NOT NULL,
    sequence TEXT NOT NULL,
    last     INTEGER NOT NULL,
    PRIMARY KEY (partner, sequence)
) WITHOUT ROWID;

CREATE TABLE received_control_numbers (
    partner     TEXT NOT NULL,
    sequence    TEXT NOT NULL,
    number      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (partner, sequence, number)
) WITHOUT ROWID;

CREATE TABLE dead_letters (
    id          TEXT PRIMARY KEY,
    stage       TEXT NOT NULL,
    tenant      TEXT,
    partner     TEXT,
    reason      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    message_id  TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    headers     TEXT NOT NULL,
    body        BLOB NOT NULL,
    failed_at   INTEGER NOT NULL,
    redriven_at INTEGER,
    redriven_by TEXT
);
CREATE INDEX dead_letters_by_time ON dead_letters (failed_at);
