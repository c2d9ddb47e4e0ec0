-- labour_flows: monthly counts per province and dimension, summed over the parts of every raw export,
-- with the balance (saldo = attivazioni - cessazioni + trasformazioni_in - trasformazioni_out).
-- Input: parts (labour_flows_part rows of every accepted export). Bound: $1 period format.
SELECT territory,
       {{PERIOD}}                              AS period,
       contract_class, sector_section, sex, age_class, citizenship_group,
       sum(attivazioni)::BIGINT                AS attivazioni,
       sum(cessazioni)::BIGINT                 AS cessazioni,
       sum(proroghe)::BIGINT                   AS proroghe,
       sum(trasformazioni_in)::BIGINT          AS trasformazioni_in,
       sum(trasformazioni_out)::BIGINT         AS trasformazioni_out,
       (sum(attivazioni) - sum(cessazioni) + sum(trasformazioni_in) - sum(trasformazioni_out))::BIGINT AS saldo
FROM parts
GROUP BY ALL
ORDER BY ALL
