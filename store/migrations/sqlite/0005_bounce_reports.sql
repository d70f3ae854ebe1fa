-- Late bounce and complaint reports (package bounces): why a subscription
-- left ('complained' for a spam report), and the soft bounces counted
-- towards marking it bounced.
ALTER TABLE subscriptions ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN soft_bounces INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN soft_bounced_at TEXT;
