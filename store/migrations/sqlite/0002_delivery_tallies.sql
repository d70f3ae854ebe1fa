-- Deliveries of erased subscriptions, kept only as counts per edition,
-- channel and status (ForgetSubscriber): the edition's stats stay whole and
-- nothing names the reader.
CREATE TABLE delivery_tallies (
    edition_id INTEGER NOT NULL REFERENCES editions (id) ON DELETE CASCADE,
    channel    TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    n          INTEGER NOT NULL,
    PRIMARY KEY (edition_id, channel, status)
) STRICT, WITHOUT ROWID;

-- PurgePending: pending subscriptions by age.
CREATE INDEX subscriptions_status_created ON subscriptions (status, created_at);
