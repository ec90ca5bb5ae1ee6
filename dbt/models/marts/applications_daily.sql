-- Applications by submission day (UTC), product and current status: how many came in, for how much,
-- and how much of it was approved.
select
    submitted_at::date || '|' || product || '|' || application_status as applications_daily_key,
    submitted_at::date as submitted_date,
    product,
    application_status,
    count(*) as application_count,
    sum(requested_amount)::numeric(18, 2) as requested_amount,
    sum(approved_amount)::numeric(18, 2) as approved_amount
from {{ ref('int_applications__decisions') }}
group by submitted_at::date, product, application_status
