-- labour_events: one harmonized row per CO event of one raw export, in the order of the raw file: row i
-- of the output is data row i of the raw CSV (line i + 1). Every lookup is a projection (an ENUM cast and
-- a list index, see loadCODictionaries), so that order holds on any number of threads.
-- Inputs: raw_co (the export as read, every column VARCHAR), the co_dict_* types and macros.
-- Bound: $1 event type, $2 raw sha256, $3 reference date (the fetch date: later events are "in the future").
SELECT
    $1::VARCHAR                                                    AS event_type,
    event_date,
    CAST(date_trunc('month', event_date) AS DATE)                  AS event_month,
    COALESCE(co_dict_province_istat(p), 'UNMAPPED')                AS territory,
    co_dict_province_nuts2021(p)                                   AS territory_nuts,
    PROVINCIAIMPRESA                                               AS province_label,
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
    COALESCE(co_dict_citizenship_citizenship_group(c), 'UNMAPPED') AS citizenship_group,
    ITALIANO                                                       AS citizenship_label,
    COALESCE(co_dict_education_isced2011(e), 'UNMAPPED')           AS education_isced,
    TITOLOSTUDIO                                                   AS education_label,
    co_dict_sector_system(s)                                       AS sector_system,
    COALESCE(co_dict_sector_ateco_code(s), 'UNMAPPED')             AS sector_code,
    COALESCE(co_dict_sector_nace_section(s), 'UNMAPPED')           AS sector_section,
    co_dict_sector_nace_division(s)                                AS sector_division,
    SETTOREECONOMICODETTAGLIO                                      AS sector_label,
    COALESCE(co_dict_contract_contract_class(k), 'UNMAPPED')       AS contract_class,
    co_dict_contract_co_code(k)                                    AS contract_code,
    CONTRATTO                                                      AS contract_label,
    COALESCE(co_dict_working_time_working_time(w), 'UNMAPPED')     AS working_time,
    MODALITALAVORO                                                 AS working_time_label,
    (age IS NULL OR age < 14 OR age > 90)                          AS flag_age_implausible,
    (event_date IS NULL OR event_date > $3::DATE)                  AS flag_date_implausible,
    COALESCE(NOT co_dict_province_in_lombardy(p), false)           AS flag_outside_lombardy,
    $2::VARCHAR                                                    AS raw_sha256
FROM (
    SELECT *,
           CAST(try_strptime(DATA, '%d/%m/%Y') AS DATE)                                 AS event_date,
           TRY_CAST(ETA AS INTEGER)                                                     AS age,
           enum_code(TRY_CAST(PROVINCIAIMPRESA AS co_dict_province_raw))                AS p,
           enum_code(TRY_CAST(ITALIANO AS co_dict_citizenship_raw))                     AS c,
           enum_code(TRY_CAST(TITOLOSTUDIO AS co_dict_education_raw))                   AS e,
           enum_code(TRY_CAST(SETTOREECONOMICODETTAGLIO AS co_dict_sector_raw))         AS s,
           enum_code(TRY_CAST(CONTRATTO AS co_dict_contract_raw))                       AS k,
           enum_code(TRY_CAST(COALESCE(MODALITALAVORO, '') AS co_dict_working_time_raw)) AS w
    FROM raw_co
)
