-- CreditWarehouse: SCD Type 2 history and facts, written by the warehouse sink. Runs unchanged on
-- SQL Server 2022 and on the project's SQL Server emulator (a test fixture). The dw tables come with
-- the warehouse sink.
CREATE DATABASE CreditWarehouse;
GO
USE CreditWarehouse;
GO
CREATE SCHEMA dw;
GO
