-- Issue 13: the calling and called numbers of a session, kept as evidence for the report's
-- particulars: `AnalyticsSession.ani` ("Automatic Number Identification (caller's number)") and
-- `AnalyticsSession.dnis` ("Dialed number identification service (number dialed by the calling
-- party)"), as the details carry them (`tel:+1...` for PSTN). Personal data: never logged.
ALTER TABLE sessions ADD COLUMN ani TEXT;
ALTER TABLE sessions ADD COLUMN dnis TEXT;
