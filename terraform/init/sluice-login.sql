-- The `sluice` login the source and the warehouse sink use, db_owner of one database (sqlcmd scripting
-- variables from the environment: SLUICE_PASSWORD, SLUICE_DATABASE). Safe to run again: an existing login
-- gets the current password.
IF NOT EXISTS (SELECT 1 FROM sys.server_principals WHERE name = N'sluice')
    CREATE LOGIN sluice WITH PASSWORD = N'$(SLUICE_PASSWORD)', CHECK_POLICY = ON;
ELSE
    ALTER LOGIN sluice WITH PASSWORD = N'$(SLUICE_PASSWORD)';
GO
USE [$(SLUICE_DATABASE)];
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'sluice')
    CREATE USER sluice FOR LOGIN sluice;
ALTER ROLE db_owner ADD MEMBER sluice;
GO
