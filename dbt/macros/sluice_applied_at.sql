{#- The freshness of a replica table: when the replica sink last committed a batch for the table's
    topic (sluice.sluice_offsets.updated_at, written in the same transaction as the rows). Used as
    the table's `loaded_at_query`. -#}
{% macro sluice_applied_at(table_name) -%}
select max(updated_at) from sluice.sluice_offsets where group_id = '{{ var("replica_group_id") }}' and topic = '{{ var("replica_topic_prefix") }}{{ table_name }}'
{%- endmacro %}
