-- One row per application with its decision: whether and how it was decided, how long it took, and
-- the approved amount (the requested amount once approved, as the warehouse's fact table has it).
select
    application_id,
    customer_id,
    product,
    application_status,
    requested_amount,
    case when application_status = 'approved' then requested_amount else 0 end::numeric(18, 2) as approved_amount,
    term_months,
    interest_rate,
    submitted_by_officer,
    submitted_at,
    decided_by_officer,
    decided_at,
    application_status <> 'submitted' as is_decided,
    application_status = 'approved' as is_approved,
    case
        when decided_at is not null and application_status <> 'submitted'
            then round((extract(epoch from (decided_at - submitted_at)) / 3600.0)::numeric, 2)
    end as hours_to_decision
from {{ ref('stg_credit_app__credit_applications') }}
