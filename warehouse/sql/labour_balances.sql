-- labour_balances: the balance per month and its cumulative sum from the first month (2017-01), per
-- province and for the region ('03'), per contract class and in total ('TOTAL'), with the territory's name.
-- Every month is present. Input: parts, territories. Bound: $1 first month.
WITH s AS (
    SELECT COALESCE(territory, '03') AS territory, event_month, COALESCE(contract_class, 'TOTAL') AS contract_class,
           sum(attivazioni - cessazioni + trasformazioni_in - trasformazioni_out) AS saldo
    FROM parts
    GROUP BY GROUPING SETS ((territory, event_month, contract_class), (event_month, contract_class),
                            (territory, event_month), (event_month))
),
months AS (
    SELECT CAST(range AS DATE) AS m
    FROM range($1::DATE, (SELECT max(event_month) FROM parts) + INTERVAL 1 MONTH, INTERVAL 1 MONTH)
),
keys AS (SELECT DISTINCT territory, contract_class FROM s)
SELECT k.territory, t.name AS territory_name, strftime(m.m, '%Y-%m') AS period, k.contract_class,
       COALESCE(s.saldo, 0)::BIGINT AS saldo,
       sum(COALESCE(s.saldo, 0)) OVER (PARTITION BY k.territory, k.contract_class ORDER BY m.m)::BIGINT AS saldo_cumulato
FROM keys k CROSS JOIN months m
JOIN territories t ON t.istat = k.territory
LEFT JOIN s ON s.territory = k.territory AND s.contract_class = k.contract_class AND s.event_month = m.m
ORDER BY k.territory, k.contract_class, period
