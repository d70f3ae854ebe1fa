-- Late reports (bounces, complaints) per edition: the one a VERP token
-- names, or the last edition sent to the reader for a provider's webhook.
CREATE TABLE edition_reports (
    edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (edition_id, kind)
) STRICT, WITHOUT ROWID;
