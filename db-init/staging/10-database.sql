-- CreditStaging: the consumer-credit source of truth. Runs unchanged on SQL Server 2022 and on the
-- project's SQL Server emulator (a test fixture). Batches are separated by GO lines.
CREATE DATABASE CreditStaging;
GO
-- The source connector reads its initial snapshot in a SNAPSHOT isolation transaction (one consistent
-- view of the tables and the CDC change tables), which needs this database option.
ALTER DATABASE CreditStaging SET ALLOW_SNAPSHOT_ISOLATION ON;
GO
