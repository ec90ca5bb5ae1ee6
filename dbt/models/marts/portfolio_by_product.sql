-- The loan book per product: approved, repaid and outstanding totals.
select
    product,
    count(*) as approved_application_count,
    sum(approved_amount)::numeric(18, 2) as approved_amount,
    sum(repaid_amount)::numeric(18, 2) as repaid_amount,
    sum(outstanding_amount)::numeric(18, 2) as outstanding_amount,
    count(*) filter (where is_repaid_in_full) as repaid_in_full_count
from {{ ref('portfolio_by_application') }}
group by product
