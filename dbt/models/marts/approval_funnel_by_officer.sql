-- Decisions per officer (decided_by): how many each decided, their approval rate and how fast.
-- Applications still open have no deciding officer and are not counted here (see
-- approval_funnel_by_product.pending_count).
select
    decided_by_officer,
    count(*) as decided_count,
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
where is_decided and decided_by_officer is not null
group by decided_by_officer
