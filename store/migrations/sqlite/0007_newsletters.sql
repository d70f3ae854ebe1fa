-- Several newsletters (config [[newsletters]]): the slugs a reader gets, as
-- a JSON array. NULL is the default (first) newsletter only, which is what
-- every subscription made before there were several gets.
ALTER TABLE subscriptions ADD COLUMN newsletters TEXT;
