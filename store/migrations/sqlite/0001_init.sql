-- digestbot schema, SQLite. Times are TEXT in UTC, fixed width
-- (2006-01-02T15:04:05.000000Z) so that text order is time order; NULL is
-- "unknown". Booleans are 0/1. AUTOINCREMENT so that an id is never reused:
-- signed links carry subscription ids.

CREATE TABLE feeds (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    url            TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL DEFAULT '',
    section        TEXT    NOT NULL DEFAULT '',
    weight         REAL    NOT NULL DEFAULT 1,
    etag           TEXT    NOT NULL DEFAULT '',
    last_modified  TEXT    NOT NULL DEFAULT '',
    last_polled_at TEXT,
    last_error     TEXT    NOT NULL DEFAULT '',
    enabled        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT    NOT NULL
) STRICT;

CREATE TABLE articles (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    url          TEXT UNIQUE,  -- canonical URL; NULL for an item without a link
    guid         TEXT,         -- NULL when the item had none
    feed_id      INTEGER REFERENCES feeds (id) ON DELETE SET NULL,
    source       TEXT    NOT NULL DEFAULT '',
    title        TEXT    NOT NULL DEFAULT '',
    lead         TEXT    NOT NULL DEFAULT '',
    byline       TEXT    NOT NULL DEFAULT '',
    image_url    TEXT    NOT NULL DEFAULT '',
    section      TEXT    NOT NULL DEFAULT '',
    published_at TEXT,
    ingested_at  TEXT    NOT NULL,
    content_hash TEXT    NOT NULL DEFAULT '',
    pinned       INTEGER NOT NULL DEFAULT 0,
    hidden       INTEGER NOT NULL DEFAULT 0,
    priority     INTEGER NOT NULL DEFAULT 0,
    -- Dedupe per feed; also serves feed_id lookups (ON DELETE SET NULL).
    UNIQUE (feed_id, guid)
) STRICT;

-- SelectArticles: a range of ingested_at, newest first.
CREATE INDEX articles_ingested_at ON articles (ingested_at, id);

CREATE TABLE editions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    newsletter  TEXT NOT NULL,
    date        TEXT NOT NULL, -- YYYY-MM-DD in the newsletter's time zone
    title       TEXT NOT NULL DEFAULT '',
    cutoff_from TEXT,
    cutoff_to   TEXT,
    status      TEXT NOT NULL CHECK (status IN ('built', 'sending', 'sent', 'paused', 'cancelled')),
    items       TEXT NOT NULL DEFAULT '[]', -- JSON array of digest.Item
    created_at  TEXT NOT NULL,
    sent_at     TEXT,
    -- One edition a day per newsletter, whatever the clock does (DST double
    -- runs, restarts, several instances): CreateEdition relies on it.
    UNIQUE (newsletter, date)
) STRICT;

CREATE TABLE subscriptions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT NOT NULL CHECK (channel IN ('email', 'telegram')),
    address         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'blocked')),
    sections        TEXT, -- JSON array of strings; NULL means every section
    source          TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    unsubscribed_at TEXT,
    UNIQUE (channel, address)
) STRICT;

-- Fan-out: active ids of a channel, in id order.
CREATE INDEX subscriptions_channel_status ON subscriptions (channel, status, id);

CREATE TABLE deliveries (
    edition_id      INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    status          TEXT    NOT NULL CHECK (status IN ('sent', 'failed', 'skipped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    sent_at         TEXT,
    PRIMARY KEY (edition_id, subscription_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX deliveries_subscription ON deliveries (subscription_id);

CREATE TABLE state (
    key        TEXT NOT NULL PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
