-- labour_events: one harmonized row per CO event of one raw export, in the order of the raw file: row i
-- of the output is data row i of the raw CSV (line i + 1). Every lookup is a projection (an ENUM cast and
-- a list index, see dictionaryStatements), so that order holds on any number of threads. Original labels
-- are written as ENUMs of the known spellings (cheap to write), and verbatim in *_label_other when the
-- code list does not know the spelling: the label as published is coalesce(x_label, x_label_other).
-- Inputs: raw_co (the export as read, every column VARCHAR), the co_dict_* types and macros.
-- Bound: $1 event type, $2 raw sha256, $3 reference date (the fetch date: later events are "in the future").
SELECT
    $1::VARCHAR                                                    AS event_type,
    event_date,
    CAST(date_trunc('month', event_date) AS DATE)                  AS event_month,
    COALESCE(co_dict_province_istat(p), 'UNMAPPED'::co_dict_province_istat_t)                AS territory,
    co_dict_province_nuts2021(p)                                   AS territory_nuts,
    pv                                                             AS province_label,
    CASE WHEN p IS NULL THEN PROVINCIAIMPRESA END                  AS province_label_other,
    CASE upper(trim(GENERE)) WHEN 'M' THEN 'M' WHEN 'F' THEN 'F' ELSE 'UNMAPPED' END AS sex,
    age,
    CASE
        WHEN age IS NULL OR age < 14 OR age > 90 THEN 'UNKNOWN'
        WHEN age < 25 THEN 'Y_LT25'
        WHEN age < 35 THEN 'Y25-34'
        WHEN age < 45 THEN 'Y35-44'
        WHEN age < 55 THEN 'Y45-54'
        WHEN age < 65 THEN 'Y55-64'
        ELSE 'Y_GE65'
    END                                                            AS age_class,
    COALESCE(co_dict_citizenship_citizenship_group(c), 'UNMAPPED'::co_dict_citizenship_citizenship_group_t) AS citizenship_group,
    cv                                                             AS citizenship_label,
    CASE WHEN c IS NULL THEN ITALIANO END                          AS citizenship_label_other,
    COALESCE(co_dict_education_isced2011(e), 'UNMAPPED'::co_dict_education_isced2011_t)           AS education_isced,
    ev                                                             AS education_label,
    CASE WHEN e IS NULL THEN TITOLOSTUDIO END                      AS education_label_other,
    co_dict_sector_system(s)                                       AS sector_system,
    COALESCE(co_dict_sector_ateco_code(s), 'UNMAPPED'::co_dict_sector_ateco_code_t)             AS sector_code,
    COALESCE(co_dict_sector_nace_section(s), 'UNMAPPED'::co_dict_sector_nace_section_t)           AS sector_section,
    co_dict_sector_nace_division(s)                                AS sector_division,
    sv                                                             AS sector_label,
    CASE WHEN s IS NULL THEN SETTOREECONOMICODETTAGLIO END         AS sector_label_other,
    COALESCE(co_dict_contract_contract_class(k), 'UNMAPPED'::co_dict_contract_contract_class_t)       AS contract_class,
    co_dict_contract_co_code(k)                                    AS contract_code,
    kv                                                             AS contract_label,
    CASE WHEN k IS NULL THEN CONTRATTO END                         AS contract_label_other,
    COALESCE(co_dict_working_time_working_time(w), 'UNMAPPED'::co_dict_working_time_working_time_t)     AS working_time,
    wv                                                             AS working_time_label,
    CASE WHEN w IS NULL THEN MODALITALAVORO END                    AS working_time_label_other,
    (age IS NULL OR age < 14 OR age > 90)                          AS flag_age_implausible,
    (event_date IS NULL OR event_date > $3::DATE)                  AS flag_date_implausible,
    COALESCE(NOT co_dict_province_in_lombardy(p), false)           AS flag_outside_lombardy,
    $2::VARCHAR                                                    AS raw_sha256
FROM (
    SELECT *, enum_code(pv) AS p, enum_code(cv) AS c, enum_code(ev) AS e, enum_code(sv) AS s, enum_code(kv) AS k,
           enum_code(wv) AS w
    FROM (
        SELECT *,
               -- the CSV export writes dd/mm/yyyy; the SODA endpoint a floating timestamp (2021-03-01T00:00:00.000)
               CAST(COALESCE(try_strptime(DATA, '%d/%m/%Y'), try_strptime(DATA, '%Y-%m-%dT%H:%M:%S.%g')) AS DATE) AS event_date,
               TRY_CAST(ETA AS INTEGER)                                         AS age,
               TRY_CAST(PROVINCIAIMPRESA AS co_dict_province_raw)               AS pv,
               TRY_CAST(ITALIANO AS co_dict_citizenship_raw)                    AS cv,
               TRY_CAST(TITOLOSTUDIO AS co_dict_education_raw)                  AS ev,
               TRY_CAST(SETTOREECONOMICODETTAGLIO AS co_dict_sector_raw)        AS sv,
               TRY_CAST(CONTRATTO AS co_dict_contract_raw)                      AS kv,
               TRY_CAST(COALESCE(MODALITALAVORO, '') AS co_dict_working_time_raw) AS wv
        FROM raw_co
    )
)
