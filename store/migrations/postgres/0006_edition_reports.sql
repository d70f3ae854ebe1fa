-- Late reports (bounces, complaints) per edition: the one a VERP token
-- names, or the last edition sent to the reader for a provider's webhook.
CREATE TABLE edition_reports (
    edition_id bigint NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    kind       text   NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (edition_id, kind)
);
