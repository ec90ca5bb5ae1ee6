-- Repayments summed per application.
select
    application_id,
    count(*) as repayment_count,
    sum(repayment_amount)::numeric(18, 2) as repaid_amount,
    min(paid_at) as first_paid_at,
    max(paid_at) as last_paid_at
from {{ ref('stg_credit_app__repayments') }}
group by application_id
