-- Enable change data capture after the existing rows are loaded, as a business enabling CDC on a live
-- database does: the rows above reach Kafka through the source's initial snapshot, later changes through
-- the change tables. On a real server SQL Server Agent must run for the capture job.
USE CreditStaging;
GO
EXEC sys.sp_cdc_enable_db;
GO
EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'customers',
     @role_name = NULL, @capture_instance = N'dbo_customers', @supports_net_changes = 1;
GO
EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'credit_applications',
     @role_name = NULL, @capture_instance = N'dbo_credit_applications', @supports_net_changes = 1;
GO
EXEC sys.sp_cdc_enable_table @source_schema = N'dbo', @source_name = N'repayments',
     @role_name = NULL, @capture_instance = N'dbo_repayments', @supports_net_changes = 1;
GO
