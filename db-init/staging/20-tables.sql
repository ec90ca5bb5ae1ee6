USE CreditStaging;
GO
CREATE TABLE dbo.customers (
    customer_id       int IDENTITY(1,1) NOT NULL CONSTRAINT pk_customers PRIMARY KEY,
    full_name         nvarchar(200)  NOT NULL,
    national_id       nvarchar(20)   NOT NULL CONSTRAINT uq_customers_national_id UNIQUE,
    date_of_birth     date           NOT NULL,
    email             nvarchar(200)  NULL,
    phone             nvarchar(30)   NULL,
    address           nvarchar(400)  NULL,
    monthly_income    decimal(18,2)  NULL,
    employment_status nvarchar(30)   NULL,
    created_at        datetime2(3)   NOT NULL CONSTRAINT df_customers_created_at DEFAULT SYSUTCDATETIME(),
    updated_at        datetime2(3)   NOT NULL CONSTRAINT df_customers_updated_at DEFAULT SYSUTCDATETIME()
);
GO
CREATE TABLE dbo.credit_applications (
    application_id    int IDENTITY(1,1) NOT NULL CONSTRAINT pk_credit_applications PRIMARY KEY,
    customer_id       int            NOT NULL CONSTRAINT fk_credit_applications_customer
                                     REFERENCES dbo.customers (customer_id),
    product           nvarchar(30)   NOT NULL,
    requested_amount  decimal(18,2)  NOT NULL,
    term_months       int            NOT NULL,
    interest_rate     decimal(5,2)   NULL,
    status            nvarchar(20)   NOT NULL CONSTRAINT df_credit_applications_status DEFAULT N'submitted',
    submitted_by      nvarchar(100)  NOT NULL,
    submitted_at      datetime2(3)   NOT NULL CONSTRAINT df_credit_applications_submitted_at DEFAULT SYSUTCDATETIME(),
    decided_by        nvarchar(100)  NULL,
    decided_at        datetime2(3)   NULL,
    decision_note     nvarchar(400)  NULL,
    CONSTRAINT ck_credit_applications_status
        CHECK (status IN (N'submitted', N'approved', N'rejected', N'cancelled'))
);
GO
CREATE INDEX ix_credit_applications_customer ON dbo.credit_applications (customer_id);
GO
CREATE TABLE dbo.repayments (
    repayment_id      int IDENTITY(1,1) NOT NULL CONSTRAINT pk_repayments PRIMARY KEY,
    application_id    int            NOT NULL CONSTRAINT fk_repayments_application
                                     REFERENCES dbo.credit_applications (application_id),
    amount            decimal(18,2)  NOT NULL,
    paid_at           datetime2(3)   NOT NULL
);
GO
CREATE INDEX ix_repayments_application ON dbo.repayments (application_id);
GO
