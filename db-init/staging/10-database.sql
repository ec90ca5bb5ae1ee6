-- CreditStaging: the consumer-credit source of truth. Runs unchanged on SQL Server 2022 and on the
-- project's SQL Server emulator (a test fixture). Batches are separated by GO lines.
CREATE DATABASE CreditStaging;
GO
