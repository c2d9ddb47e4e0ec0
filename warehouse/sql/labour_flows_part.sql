-- labour_flows_part: the counts one raw export contributes to labour_flows, per province, month and
-- dimension. A transformation counts as an entry to its new contract class and an exit from the class it
-- leaves: fixed-term when the new class is permanent, the same class otherwise (a change of working time).
-- Only events from 2017 on, dated, not in the future, at an employer in Lombardy.
-- Input: the labour_events snapshot at $1 (a path), read once. Bound: $2 the first month counted.
-- An intermediate: its rows are unordered; the published flow tables are sorted.
WITH agg AS MATERIALIZED (
    SELECT event_type, territory, event_month, contract_class, sector_section, sex, age_class, citizenship_group,
           count(*) AS n
    FROM read_parquet($1)
    WHERE NOT flag_date_implausible AND NOT flag_outside_lombardy AND territory <> 'UNMAPPED'
      AND event_month >= $2::DATE
    GROUP BY ALL
)
SELECT territory, event_month, contract_class, sector_section, sex, age_class, citizenship_group,
       sum(attivazioni)::BIGINT AS attivazioni, sum(cessazioni)::BIGINT AS cessazioni, sum(proroghe)::BIGINT AS proroghe,
       sum(trasformazioni_in)::BIGINT AS trasformazioni_in, sum(trasformazioni_out)::BIGINT AS trasformazioni_out
FROM (
    SELECT territory, event_month, contract_class, sector_section, sex, age_class, citizenship_group,
           CASE WHEN event_type = 'attivazione' THEN n ELSE 0 END    AS attivazioni,
           CASE WHEN event_type = 'cessazione' THEN n ELSE 0 END     AS cessazioni,
           CASE WHEN event_type = 'proroga' THEN n ELSE 0 END        AS proroghe,
           CASE WHEN event_type = 'trasformazione' THEN n ELSE 0 END AS trasformazioni_in,
           0                                                         AS trasformazioni_out
    FROM agg
    UNION ALL
    SELECT territory, event_month,
           CASE WHEN contract_class = 'permanent' THEN 'fixed_term' ELSE contract_class END,
           sector_section, sex, age_class, citizenship_group, 0, 0, 0, 0, n
    FROM agg WHERE event_type = 'trasformazione'
)
GROUP BY ALL
