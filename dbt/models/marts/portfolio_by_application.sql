-- The loan book: every approved application with the amount approved, repaid so far and outstanding
-- (principal only: approved − repaid; interest is not modelled).
select
    a.application_id,
    a.customer_id,
    a.product,
    a.decided_at as approved_at,
    a.approved_amount,
    coalesce(r.repayment_count, 0) as repayment_count,
    coalesce(r.repaid_amount, 0)::numeric(18, 2) as repaid_amount,
    (a.approved_amount - coalesce(r.repaid_amount, 0))::numeric(18, 2) as outstanding_amount,
    a.approved_amount - coalesce(r.repaid_amount, 0) <= 0 as is_repaid_in_full
from {{ ref('int_applications__decisions') }} as a
left join {{ ref('int_repayments__by_application') }} as r using (application_id)
where a.is_approved
