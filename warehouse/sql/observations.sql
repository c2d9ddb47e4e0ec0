-- observations: one harmonized row per statistical fact of one raw object.
-- Inputs: raw_observations (as the connector read them), territory_codes (every known code → Istat number),
-- territories (the crosswalk). Bound: $1 source, $2 dataset, $3 raw sha256.
SELECT
    $1::VARCHAR                     AS source,
    $2::VARCHAR                     AS dataset,
    r.indicator,
    r.breakdown,
    r.unit,
    r.unit_mult,
    t.istat                         AS territory,
    t.nuts2021                      AS territory_nuts,
    t.itter107                      AS territory_itter107,
    t.name                          AS territory_name,
    t.level                         AS territory_level,
    r.period,
    r.freq,
    r.sex,
    r.age,
    r.education,
    r.sector,
    r.citizenship,
    r.value,
    r.status,
    r.unmapped,
    $3::VARCHAR                     AS raw_sha256,
    r.position                      AS raw_position
FROM raw_observations r
JOIN territory_codes c ON c.code = upper(trim(r.geo))
JOIN territories t ON t.istat = c.istat
ORDER BY r.position
