-- Loads' and orders' states are 1 to 3 KB of JSON. In the WITHOUT ROWID table of
-- migration 1 (an index b-tree, which keeps at most ~1 KB of a row in its page on 4 KiB
-- pages) every one spilled into overflow pages: each read followed a chain, each update
-- freed one and allocated another. In a rowid table a row of up to ~4 KB stays in its
-- page; the unique index finds it by key.
CREATE TABLE state_rows (
    id      INTEGER PRIMARY KEY,
    tenant  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    key     TEXT NOT NULL,
    version INTEGER NOT NULL,
    value   TEXT NOT NULL,
    UNIQUE (tenant, kind, key)
);
INSERT INTO state_rows (tenant, kind, key, version, value)
    SELECT tenant, kind, key, version, value FROM state;
DROP TABLE state;
ALTER TABLE state_rows RENAME TO state;
