-- Credit applications as replicated; renames and casts only.
select
    application_id,
    customer_id,
    product,
    requested_amount::numeric(18, 2) as requested_amount,
    term_months,
    interest_rate::numeric(5, 2) as interest_rate,
    status as application_status,
    submitted_by as submitted_by_officer,
    submitted_at,
    decided_by as decided_by_officer,
    decided_at,
    decision_note,
    __sluice_position as sluice_position
from {{ source('credit_app', 'credit_applications') }}
