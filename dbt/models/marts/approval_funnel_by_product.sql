-- The approval funnel per product: submitted → decided → approved / rejected / cancelled, the
-- approval rate among decided applications (approved / (approved + rejected)) and time to decision.
select
    product,
    count(*) as submitted_count,
    count(*) filter (where not is_decided) as pending_count,
    count(*) filter (where is_decided) as decided_count,
    count(*) filter (where application_status = 'approved') as approved_count,
    count(*) filter (where application_status = 'rejected') as rejected_count,
    count(*) filter (where application_status = 'cancelled') as cancelled_count,
    round(
        count(*) filter (where application_status = 'approved')::numeric
        / nullif(count(*) filter (where application_status in ('approved', 'rejected')), 0), 4
    ) as approval_rate,
    round(avg(hours_to_decision), 2) as avg_hours_to_decision,
    round((percentile_cont(0.5) within group (order by hours_to_decision))::numeric, 2) as median_hours_to_decision
from {{ ref('int_applications__decisions') }}
group by product
