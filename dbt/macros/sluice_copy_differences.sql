{#- A CTE `<table>_differences` (check_name, expected, actual): the rows where a staging copy of a
    replica table differs from the replica now in a way a later change does not explain. Used by
    tests/assert_marts_reconcile_with_replica.sql; see there for the rule. `replica_columns` and
    `copy_columns` name the same columns in the replica and in the staging model, in the same order. -#}
{% macro sluice_copy_differences(table, key, copy_relation, replica_columns, copy_columns) -%}
{{ table }}_copy as (
    select {{ key }} as k, sluice_position as pos, md5(row({{ copy_columns | join(', ') }})::text) as h
    from {{ copy_relation }}
),
{{ table }}_replica as (
    select {{ key }} as k, __sluice_position as pos, md5(row({{ replica_columns | join(', ') }})::text) as h
    from {{ source('credit_app', table) }}
),
{{ table }}_watermark as (
    select coalesce(max(pos collate "C"), '') as w from {{ table }}_copy
),
{{ table }}_differences as (
    select
        '{{ table }} key ' || coalesce(c.k, r.k)::text || ': ' || case
            when r.k is null then 'in the staging copy, gone from the replica without a later delete'
            when c.k is null then 'in the replica at a position the staging copy should include'
            when r.pos = c.pos then 'same position, different values'
            else 'the replica holds an older or not-later position than the copy'
        end as check_name,
        c.pos as expected,
        r.pos as actual
    from {{ table }}_copy as c
    full join {{ table }}_replica as r on r.k = c.k
    cross join {{ table }}_watermark as wm
    where
        (r.k is null and not exists (
            select 1 from {{ source('sluice', 'sluice_deleted') }} as d
            where d.table_name = 'dbo.{{ table }}' and (d.key::jsonb ->> '{{ key }}') = c.k::text
              and d.position > wm.w collate "C"))
        or (c.k is null and r.pos <= wm.w collate "C")
        or (c.k is not null and r.k is not null and r.pos = c.pos and r.h <> c.h)
        or (c.k is not null and r.k is not null and r.pos <> c.pos and r.pos <= wm.w collate "C")
)
{%- endmacro %}
