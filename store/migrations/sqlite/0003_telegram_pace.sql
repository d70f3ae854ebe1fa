-- The Telegram send schedule shared by every process sending as one bot
-- (ReservePace): tat is the next free slot, in microseconds since the Unix
-- epoch, on the clock of the process that reserved (SQLite is one machine).
CREATE TABLE telegram_pace (
    bot TEXT    NOT NULL PRIMARY KEY,
    tat INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
