-- A reader's own delivery hour (subscribers.LocalTime): NULL local_hour is
-- the newsletter's schedule.
ALTER TABLE subscriptions ADD COLUMN local_zone TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN local_hour INTEGER CHECK (local_hour BETWEEN 0 AND 23);
