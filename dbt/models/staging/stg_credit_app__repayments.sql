-- Repayments as replicated; renames and casts only.
select
    repayment_id,
    application_id,
    amount::numeric(18, 2) as repayment_amount,
    paid_at,
    __sluice_position as sluice_position
from {{ source('credit_app', 'repayments') }}
