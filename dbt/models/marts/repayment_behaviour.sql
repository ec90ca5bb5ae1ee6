-- How each approved application is being repaid: number of repayments, first and last payment, the
-- average gap between payments and the days since the last payment (or since approval, when nothing
-- has been paid yet), as of the time the model was built (`as_of`, UTC).
with payments as (
    select
        application_id,
        paid_at,
        paid_at - lag(paid_at) over (partition by application_id order by paid_at, repayment_id) as gap
    from {{ ref('stg_credit_app__repayments') }}
),

gaps as (
    select application_id, round((avg(extract(epoch from gap)) / 86400.0)::numeric, 1) as avg_days_between_payments
    from payments
    where gap is not null
    group by application_id
)

select
    a.application_id,
    a.customer_id,
    a.product,
    a.decided_at as approved_at,
    coalesce(r.repayment_count, 0) as repayment_count,
    coalesce(r.repaid_amount, 0)::numeric(18, 2) as repaid_amount,
    r.first_paid_at,
    r.last_paid_at,
    g.avg_days_between_payments,
    (current_timestamp at time zone 'UTC')::date - r.last_paid_at::date as days_since_last_payment,
    (current_timestamp at time zone 'UTC')::date - a.decided_at::date as days_since_approval,
    (current_timestamp at time zone 'UTC')::timestamp(0) as as_of
from {{ ref('int_applications__decisions') }} as a
left join {{ ref('int_repayments__by_application') }} as r using (application_id)
left join gaps as g using (application_id)
where a.is_approved
