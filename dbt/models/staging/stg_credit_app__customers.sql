-- Customers as replicated; renames and casts only. Times are UTC (the source's datetime2 values).
select
    customer_id,
    full_name,
    national_id,
    date_of_birth,
    email,
    phone,
    address,
    monthly_income::numeric(18, 2) as monthly_income,
    employment_status,
    created_at,
    updated_at,
    __sluice_position as sluice_position
from {{ source('credit_app', 'customers') }}
