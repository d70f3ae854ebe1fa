-- A fan-out first asks whether any reader of the channel has a delivery
-- hour of their own (HasLocalTimes); without this index that question read
-- every active subscription (25 ms at 100,000 readers on SQLite).
CREATE INDEX subscriptions_local_hour ON subscriptions (channel, status) WHERE local_hour IS NOT NULL;
