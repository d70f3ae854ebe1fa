-- A delivery record's edition is checked by the code that writes it (the
-- fan-out records only for the edition it is sending; editions are never
-- deleted), not by a foreign key: PostgreSQL checks a key row by row with
-- a FOR KEY SHARE lock on the referenced row, and every record of a send
-- references the same edition row. Without it a record costs the server
-- about a fifth less (groups of 32 into a store of 20,000 readers:
-- 51-56 → 39-45 µs a record, go test ./store -bench RecordSmallGroups).
-- SQLite's check is a plain lookup and stays.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_edition_id_fkey;
