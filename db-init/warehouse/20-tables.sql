-- CreditWarehouse: the tables the warehouse sink writes (model and grain: docs/warehouse.md).
-- Runs unchanged on SQL Server 2022 and on the project's SQL Server emulator (a test fixture).
--
-- Conventions of every table:
-- * Times are UTC datetime2(3). valid_from / valid_to / recorded_at are source COMMIT times (from
--   cdc.lsn_time_mapping, carried in each event's source.ts_ms), never processing times, so a replay
--   writes the same history.
-- * source_position / last_position hold SourcePosition.sortKey as ASCII bytes in binary(58): byte
--   order is position order whatever the database collation; CAST(source_position AS varchar(58))
--   shows it as text (commit_lsn.command_id.change_lsn.event_serial_no).
-- * version_id = SHA-256("<table>|<key>|<sortKey>"): a deterministic id under a UNIQUE constraint,
--   so replaying events inserts nothing.
USE CreditWarehouse;
GO
-- Filtered indexes need these at creation (and for every later write; the sink's sessions set them).
SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO
-- Customer dimension, SCD Type 2: one row per version of a customer. Which attribute columns are
-- tracked (a change makes a new version) and which are type 1 (overwritten on every version of the
-- customer) is the sink's configuration; attributes are nullable because a column may be configured
-- as neither.
CREATE TABLE dw.dim_customer (
    customer_version_key bigint IDENTITY(1,1) NOT NULL CONSTRAINT pk_dim_customer PRIMARY KEY,
    version_id           binary(32)     NOT NULL CONSTRAINT uq_dim_customer_version_id UNIQUE,
    customer_id          int            NOT NULL,
    full_name            nvarchar(200)  NULL,
    national_id          nvarchar(20)   NULL,
    date_of_birth        date           NULL,
    email                nvarchar(200)  NULL,
    phone                nvarchar(30)   NULL,
    address              nvarchar(400)  NULL,
    monthly_income       decimal(18,2)  NULL,
    employment_status    nvarchar(30)   NULL,
    created_at           datetime2(3)   NULL,
    updated_at           datetime2(3)   NULL,
    valid_from           datetime2(3)   NOT NULL,
    valid_to             datetime2(3)   NULL,
    is_current           bit            NOT NULL,
    is_deleted           bit            NOT NULL,
    source_position      binary(58)     NOT NULL,
    last_position        binary(58)     NOT NULL,
    CONSTRAINT ck_dim_customer_validity CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CONSTRAINT ck_dim_customer_current CHECK ((is_current = 1 AND valid_to IS NULL) OR (is_current = 0 AND valid_to IS NOT NULL))
);
GO
-- Exactly one current version per customer.
CREATE UNIQUE INDEX ux_dim_customer_current ON dw.dim_customer (customer_id) WHERE is_current = 1;
GO
CREATE UNIQUE INDEX ux_dim_customer_position ON dw.dim_customer (customer_id, source_position);
GO
CREATE INDEX ix_dim_customer_validity ON dw.dim_customer (customer_id, valid_from);
GO
-- Application dimension, SCD Type 2 on status (by default): one row per status of an application.
CREATE TABLE dw.dim_application (
    application_version_key bigint IDENTITY(1,1) NOT NULL CONSTRAINT pk_dim_application PRIMARY KEY,
    version_id           binary(32)     NOT NULL CONSTRAINT uq_dim_application_version_id UNIQUE,
    application_id       int            NOT NULL,
    customer_id          int            NULL,
    product              nvarchar(30)   NULL,
    requested_amount     decimal(18,2)  NULL,
    term_months          int            NULL,
    interest_rate        decimal(5,2)   NULL,
    status               nvarchar(20)   NULL,
    submitted_by         nvarchar(100)  NULL,
    submitted_at         datetime2(3)   NULL,
    decided_by           nvarchar(100)  NULL,
    decided_at           datetime2(3)   NULL,
    decision_note        nvarchar(400)  NULL,
    valid_from           datetime2(3)   NOT NULL,
    valid_to             datetime2(3)   NULL,
    is_current           bit            NOT NULL,
    is_deleted           bit            NOT NULL,
    source_position      binary(58)     NOT NULL,
    last_position        binary(58)     NOT NULL,
    CONSTRAINT ck_dim_application_validity CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CONSTRAINT ck_dim_application_current CHECK ((is_current = 1 AND valid_to IS NULL) OR (is_current = 0 AND valid_to IS NOT NULL))
);
GO
CREATE UNIQUE INDEX ux_dim_application_current ON dw.dim_application (application_id) WHERE is_current = 1;
GO
CREATE UNIQUE INDEX ux_dim_application_position ON dw.dim_application (application_id, source_position);
GO
CREATE INDEX ix_dim_application_validity ON dw.dim_application (application_id, valid_from);
GO
-- Credit application fact, an accumulating snapshot: one row per application, updated in place as
-- it is decided. customer_version_key is the customer version valid when the application was
-- recorded (recorded_at = commit time of the first event of the application); NULL while that
-- customer's history has not arrived yet (it is filled in when it does).
CREATE TABLE dw.fact_credit_application (
    application_id       int            NOT NULL CONSTRAINT pk_fact_credit_application PRIMARY KEY,
    customer_id          int            NULL,
    customer_version_key bigint         NULL,
    product              nvarchar(30)   NULL,
    status               nvarchar(20)   NULL,
    requested_amount     decimal(18,2)  NULL,
    approved_amount      decimal(18,2)  NULL,
    term_months          int            NULL,
    interest_rate        decimal(5,2)   NULL,
    submitted_at         datetime2(3)   NULL,
    decided_at           datetime2(3)   NULL,
    recorded_at          datetime2(3)   NOT NULL,
    is_deleted           bit            NOT NULL,
    last_position        binary(58)     NOT NULL
);
GO
CREATE INDEX ix_fact_credit_application_customer ON dw.fact_credit_application (customer_id);
GO
-- Repayment fact, a transaction fact: one row per repayment, keyed to the application, the
-- application version and the customer version valid when the repayment was recorded.
CREATE TABLE dw.fact_repayment (
    repayment_id         int            NOT NULL CONSTRAINT pk_fact_repayment PRIMARY KEY,
    application_id       int            NULL,
    application_version_key bigint      NULL,
    customer_id          int            NULL,
    customer_version_key bigint         NULL,
    amount               decimal(18,2)  NULL,
    paid_at              datetime2(3)   NULL,
    recorded_at          datetime2(3)   NOT NULL,
    is_deleted           bit            NOT NULL,
    last_position        binary(58)     NOT NULL
);
GO
CREATE INDEX ix_fact_repayment_application ON dw.fact_repayment (application_id);
GO
CREATE INDEX ix_fact_repayment_customer ON dw.fact_repayment (customer_id);
GO
-- The warehouse sink's consumer offsets, written in the same transaction as the rows of each batch:
-- the next offset to read per consumer group, topic and partition.
CREATE TABLE dw.sluice_offsets (
    consumer_group       nvarchar(255)  NOT NULL,
    topic                nvarchar(249)  NOT NULL,
    partition_id         int            NOT NULL,
    next_offset          bigint         NOT NULL,
    updated_at           datetime2(3)   NOT NULL,
    CONSTRAINT pk_sluice_offsets PRIMARY KEY (consumer_group, topic, partition_id)
);
GO
