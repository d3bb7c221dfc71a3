-- transload store, PostgreSQL: the initial schema.
--
-- Applied once by the migrator in src/store/postgres/migrate.rs, inside a transaction
-- holding an advisory lock, and recorded in schema_migrations. Times are timestamptz
-- (microsecond precision); ids are uuid; free-form maps are jsonb; payloads are bytea.

-- Raw messages as endpoints received them; a resend is recognised by its dedupe key,
-- which is unique per tenant (and only per tenant).
CREATE TABLE raw_messages (
    id          uuid        PRIMARY KEY,
    tenant      text        NOT NULL,
    partner     text        NOT NULL,
    format      text        NOT NULL,
    dedupe_key  text        NOT NULL,
    received_at timestamptz NOT NULL,
    metadata    jsonb       NOT NULL,
    body        bytea       NOT NULL,
    CONSTRAINT raw_messages_tenant_dedupe_key UNIQUE (tenant, dedupe_key)
);

-- Bus messages a consumer has processed: a redelivery has no second effect.
CREATE TABLE processed_messages (
    consumer     text        NOT NULL,
    message_id   uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- State, with a version for optimistic concurrency.
CREATE TABLE state (
    tenant     text        NOT NULL,
    kind       text        NOT NULL,
    key        text        NOT NULL,
    version    bigint      NOT NULL CHECK (version >= 1),
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, kind, key)
);

-- The audit log: decisions, overrides, redrives. `seq` keeps insertion order for
-- entries with the same time.
CREATE TABLE audit_log (
    seq     bigserial   PRIMARY KEY,
    tenant  text        NOT NULL,
    actor   text        NOT NULL,
    action  text        NOT NULL,
    subject text        NOT NULL,
    details jsonb       NOT NULL,
    at      timestamptz NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (tenant, subject, at, seq);

-- The transactional outbox: messages committed with the state that produced them,
-- published afterwards.
CREATE TABLE outbox (
    seq          bigserial   PRIMARY KEY,
    stage        text        NOT NULL CHECK (stage IN ('inbound', 'events', 'outbound')),
    message_id   uuid        NOT NULL,
    routing_key  text        NOT NULL,
    headers      jsonb       NOT NULL,
    body         bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

-- Outgoing control numbers (ISA13, GS06…): the last number handed out per sequence.
CREATE TABLE control_number_sequences (
    partner    text   NOT NULL,
    sequence   text   NOT NULL,
    last_value bigint NOT NULL CHECK (last_value >= 1),
    PRIMARY KEY (partner, sequence)
);

-- Incoming control numbers seen, to recognise a duplicate interchange or group.
CREATE TABLE received_control_numbers (
    partner     text        NOT NULL,
    sequence    text        NOT NULL,
    number      text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner, sequence, number)
);

-- Messages a stage gave up on, kept whole for an operator to inspect and redrive.
-- `position` breaks ties between entries that failed at the same time.
CREATE TABLE dead_letters (
    id          uuid        PRIMARY KEY,
    position    bigserial   NOT NULL UNIQUE,
    stage       text        NOT NULL CHECK (stage IN ('inbound', 'events', 'outbound')),
    tenant      text,
    partner     text,
    reason      text        NOT NULL,
    attempts    bigint      NOT NULL CHECK (attempts BETWEEN 0 AND 4294967295),
    message_id  uuid        NOT NULL,
    routing_key text        NOT NULL,
    headers     jsonb       NOT NULL,
    body        bytea       NOT NULL,
    failed_at   timestamptz NOT NULL,
    redriven_at timestamptz,
    redriven_by text,
    CHECK ((redriven_at IS NULL) = (redriven_by IS NULL))
);
CREATE INDEX dead_letters_newest ON dead_letters (failed_at DESC, position DESC);
CREATE INDEX dead_letters_by_partner ON dead_letters (partner, failed_at DESC, position DESC);
