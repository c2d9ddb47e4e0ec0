-- labour_flows: monthly counts per province and for the region ('03'), per dimension and with sex totals
-- ('T'), summed over the parts of every raw export, with the balance (saldo = attivazioni - cessazioni +
-- trasformazioni_in - trasformazioni_out) and the territory's name.
-- Input: parts (labour_flows_part rows of every accepted export), territories. Bound: the period format.
WITH f AS (
    SELECT COALESCE(territory, '03')               AS territory,
           {{PERIOD}}                              AS period,
           contract_class, sector_section,
           COALESCE(sex, 'T')                      AS sex,
           age_class, citizenship_group,
           sum(attivazioni)::BIGINT                AS attivazioni,
           sum(cessazioni)::BIGINT                 AS cessazioni,
           sum(proroghe)::BIGINT                   AS proroghe,
           sum(trasformazioni_in)::BIGINT          AS trasformazioni_in,
           sum(trasformazioni_out)::BIGINT         AS trasformazioni_out,
           (sum(attivazioni) - sum(cessazioni) + sum(trasformazioni_in) - sum(trasformazioni_out))::BIGINT AS saldo
    FROM parts
    GROUP BY GROUPING SETS (
        (territory, period, contract_class, sector_section, sex, age_class, citizenship_group),
        (territory, period, contract_class, sector_section, age_class, citizenship_group),
        (period, contract_class, sector_section, sex, age_class, citizenship_group),
        (period, contract_class, sector_section, age_class, citizenship_group))
)
SELECT f.territory, t.name AS territory_name, f.* EXCLUDE (territory)
FROM f JOIN territories t ON t.istat = f.territory
ORDER BY ALL
