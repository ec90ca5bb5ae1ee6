-- The marts' totals reconcile with the replica. Returns one row per difference (the test fails on any).
--
-- The staging models are tables: one consistent copy of each replica table per build (a single
-- CREATE TABLE … AS SELECT). So the check has two halves that together say "the marts add up to the
-- replica as it was when they were built", exactly in a quiet world and without false alarms while
-- Sluice keeps applying changes:
--   1. every mart's totals equal the same totals computed straight from the staging copies (no join
--      that drops or duplicates rows, no application or repayment outside the loan book);
--   2. the staging copies equal the replica now, except for rows the replica changed after the copy:
--      those carry a source position (__sluice_position) newer than the newest position in the copy,
--      or their delete is in sluice.sluice_deleted with such a position. A row with the same
--      position but different values, or a difference not explained by a newer position, is a real
--      difference.

with

apps as (select * from {{ ref('stg_credit_app__credit_applications') }}),
repayments as (select * from {{ ref('stg_credit_app__repayments') }}),

expected as (
    select
        count(*)::numeric as applications,
        coalesce(sum(requested_amount), 0) as requested_amount,
        count(*) filter (where application_status = 'approved')::numeric as approved_applications,
        coalesce(sum(requested_amount) filter (where application_status = 'approved'), 0) as approved_amount,
        count(*) filter (where application_status = 'submitted')::numeric as pending_applications,
        count(*) filter (where application_status = 'rejected')::numeric as rejected_applications,
        count(*) filter (where application_status = 'cancelled')::numeric as cancelled_applications,
        count(*) filter (where application_status <> 'submitted' and decided_by_officer is not null)::numeric as decided_with_officer,
        (select count(*) from repayments)::numeric as repayments,
        (select coalesce(sum(repayment_amount), 0) from repayments) as repaid_amount
    from apps
),

totals as (
    select 'applications_daily.application_count' as check_name, (select applications from expected) as expected,
           (select coalesce(sum(application_count), 0) from {{ ref('applications_daily') }}) as actual
    union all
    select 'applications_daily.requested_amount', (select requested_amount from expected),
           (select coalesce(sum(requested_amount), 0) from {{ ref('applications_daily') }})
    union all
    select 'applications_daily.approved_amount', (select approved_amount from expected),
           (select coalesce(sum(approved_amount), 0) from {{ ref('applications_daily') }})
    union all
    select 'approval_funnel_by_product.submitted_count', (select applications from expected),
           (select coalesce(sum(submitted_count), 0) from {{ ref('approval_funnel_by_product') }})
    union all
    select 'approval_funnel_by_product.pending_count', (select pending_applications from expected),
           (select coalesce(sum(pending_count), 0) from {{ ref('approval_funnel_by_product') }})
    union all
    select 'approval_funnel_by_product.approved_count', (select approved_applications from expected),
           (select coalesce(sum(approved_count), 0) from {{ ref('approval_funnel_by_product') }})
    union all
    select 'approval_funnel_by_product.rejected_count', (select rejected_applications from expected),
           (select coalesce(sum(rejected_count), 0) from {{ ref('approval_funnel_by_product') }})
    union all
    select 'approval_funnel_by_product.cancelled_count', (select cancelled_applications from expected),
           (select coalesce(sum(cancelled_count), 0) from {{ ref('approval_funnel_by_product') }})
    union all
    select 'approval_funnel_by_officer.decided_count', (select decided_with_officer from expected),
           (select coalesce(sum(decided_count), 0) from {{ ref('approval_funnel_by_officer') }})
    union all
    select 'portfolio_by_application.rows', (select approved_applications from expected),
           (select count(*) from {{ ref('portfolio_by_application') }})
    union all
    select 'portfolio_by_application.approved_amount', (select approved_amount from expected),
           (select coalesce(sum(approved_amount), 0) from {{ ref('portfolio_by_application') }})
    union all
    -- every repayment belongs to the loan book: the portfolio's repaid amount is all money received
    select 'portfolio_by_application.repaid_amount', (select repaid_amount from expected),
           (select coalesce(sum(repaid_amount), 0) from {{ ref('portfolio_by_application') }})
    union all
    select 'portfolio_by_application.outstanding_amount',
           (select approved_amount - repaid_amount from expected),
           (select coalesce(sum(outstanding_amount), 0) from {{ ref('portfolio_by_application') }})
    union all
    select 'portfolio_by_product.approved_amount', (select approved_amount from expected),
           (select coalesce(sum(approved_amount), 0) from {{ ref('portfolio_by_product') }})
    union all
    select 'portfolio_by_product.repaid_amount', (select repaid_amount from expected),
           (select coalesce(sum(repaid_amount), 0) from {{ ref('portfolio_by_product') }})
    union all
    select 'portfolio_by_product.outstanding_amount', (select approved_amount - repaid_amount from expected),
           (select coalesce(sum(outstanding_amount), 0) from {{ ref('portfolio_by_product') }})
    union all
    select 'repayment_behaviour.rows', (select approved_applications from expected),
           (select count(*) from {{ ref('repayment_behaviour') }})
    union all
    select 'repayment_behaviour.repayment_count', (select repayments from expected),
           (select coalesce(sum(repayment_count), 0) from {{ ref('repayment_behaviour') }})
),

{{ sluice_copy_differences('customers', 'customer_id', ref('stg_credit_app__customers'),
    ['full_name', 'national_id', 'date_of_birth', 'email', 'phone', 'address', 'monthly_income',
     'employment_status', 'created_at', 'updated_at'],
    ['full_name', 'national_id', 'date_of_birth', 'email', 'phone', 'address', 'monthly_income',
     'employment_status', 'created_at', 'updated_at']) }},

{{ sluice_copy_differences('credit_applications', 'application_id', ref('stg_credit_app__credit_applications'),
    ['customer_id', 'product', 'requested_amount', 'term_months', 'interest_rate', 'status', 'submitted_by',
     'submitted_at', 'decided_by', 'decided_at', 'decision_note'],
    ['customer_id', 'product', 'requested_amount', 'term_months', 'interest_rate', 'application_status',
     'submitted_by_officer', 'submitted_at', 'decided_by_officer', 'decided_at', 'decision_note']) }},

{{ sluice_copy_differences('repayments', 'repayment_id', ref('stg_credit_app__repayments'),
    ['application_id', 'amount', 'paid_at'],
    ['application_id', 'repayment_amount', 'paid_at']) }}

select check_name, expected::text as expected, actual::text as actual
from totals
where expected is distinct from actual
union all
select * from customers_differences
union all
select * from credit_applications_differences
union all
select * from repayments_differences
