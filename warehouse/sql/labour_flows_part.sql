-- labour_flows_part: the counts one raw export contributes to labour_flows, per province, month and
-- dimension. A transformation counts as an entry to its new contract class and an exit from the class it
-- leaves: fixed-term when the new class is permanent, the same class otherwise (a change of working time).
-- Only events from 2017 on, dated, not in the future, at an employer in Lombardy.
-- Input: the labour_events snapshot at $1 (a path). Bound: $2 the first month counted.
WITH ev AS (
    SELECT event_type, territory, event_month, contract_class, sector_section, sex, age_class, citizenship_group
    FROM read_parquet($1)
    WHERE NOT flag_date_implausible AND NOT flag_outside_lombardy AND territory <> 'UNMAPPED'
      AND event_month >= $2::DATE
)
SELECT territory, event_month, contract_class, sector_section, sex, age_class, citizenship_group,
       sum(attivazioni) AS attivazioni, sum(cessazioni) AS cessazioni, sum(proroghe) AS proroghe,
       sum(trasformazioni_in) AS trasformazioni_in, sum(trasformazioni_out) AS trasformazioni_out
FROM (
    SELECT territory, event_month, contract_class, sector_section, sex, age_class, citizenship_group,
           count(*) FILTER (WHERE event_type = 'attivazione')    AS attivazioni,
           count(*) FILTER (WHERE event_type = 'cessazione')     AS cessazioni,
           count(*) FILTER (WHERE event_type = 'proroga')        AS proroghe,
           count(*) FILTER (WHERE event_type = 'trasformazione') AS trasformazioni_in,
           0::BIGINT                                             AS trasformazioni_out
    FROM ev GROUP BY ALL
    UNION ALL
    SELECT territory, event_month,
           CASE WHEN contract_class = 'permanent' THEN 'fixed_term' ELSE contract_class END,
           sector_section, sex, age_class, citizenship_group,
           0, 0, 0, 0, count(*)
    FROM ev WHERE event_type = 'trasformazione' GROUP BY ALL
)
GROUP BY ALL
ORDER BY ALL
