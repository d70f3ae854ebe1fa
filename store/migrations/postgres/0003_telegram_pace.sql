-- The Telegram send schedule shared by every instance sending as one bot
-- (ReservePace): tat is the next free slot, in microseconds since the Unix
-- epoch on the database server's clock, so instances on machines whose
-- clocks differ still share one schedule.
CREATE TABLE telegram_pace (
    bot text   NOT NULL PRIMARY KEY,
    tat bigint NOT NULL
);
