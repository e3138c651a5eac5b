-- Candidate synonym pairs from every landed source, before any cleaning.
-- Grain: one row per imported pair, per pair the judge promoted (`etl judge --promote`: a mined
-- negative judged to mean the same as its anchor), and per (translation, English form): a translation yields
-- ko ↔ primary, ko ↔ each alternative and ko ↔ abbreviation. `entry` numbers the source row
-- (within `src`), `pos` orders the forms inside one translation (primary first).
WITH imported AS (
    SELECT
        'import' AS src,
        row_number() OVER (ORDER BY file, line, run_id) AS entry,
        0 AS pos,
        'import' AS label,
        source AS a_raw,
        target AS b_raw,
        similarity,
        'import:' || file AS origin,
        run_id,
        file AS source,
        line,
        CAST(NULL AS VARCHAR) AS call_hash
    FROM imported_pairs
),
numbered_translations AS (
    SELECT row_number() OVER (ORDER BY run_id, ko, call_hash) AS entry, *
    FROM translations
),
forms AS (
    SELECT entry, 0 AS pos, 'primary' AS label, en_primary AS form, ko, call_hash, run_id
    FROM numbered_translations
    UNION ALL
    SELECT entry, generate_subscripts(en_alternatives, 1) AS pos, 'alternative' AS label,
           unnest(en_alternatives) AS form, ko, call_hash, run_id
    FROM numbered_translations
    UNION ALL
    SELECT entry, len(en_alternatives) + 1 AS pos, 'abbreviation' AS label, abbreviation AS form, ko, call_hash, run_id
    FROM numbered_translations
    WHERE abbreviation IS NOT NULL
),
synthesised AS (
    SELECT
        'synth' AS src,
        entry,
        pos,
        label,
        ko AS a_raw,
        coalesce(form, '') AS b_raw,            -- a null alternative is an empty answer: rule `empty`
        CAST(NULL AS DOUBLE) AS similarity,
        'synth:' || label AS origin,
        run_id,
        ko AS source,
        CAST(NULL AS BIGINT) AS line,
        call_hash
    FROM forms
),
promoted AS (
    SELECT
        'judge' AS src,
        row_number() OVER (ORDER BY j.anchor_id, j.negative_id) AS entry,
        0 AS pos,
        'judge' AS label,
        a.text AS a_raw,
        n.text AS b_raw,
        CAST(NULL AS DOUBLE) AS similarity,
        'judge' AS origin,
        j.run_id,
        a.text AS source,
        CAST(NULL AS BIGINT) AS line,
        j.call_hash
    FROM negative_judgements j
    JOIN term_ids a ON a.term_id = j.anchor_id
    JOIN term_ids n ON n.term_id = j.negative_id
    WHERE j.trial = 0 AND j.verdict = 'same' AND j.promoted
)
SELECT * FROM imported
UNION ALL
SELECT * FROM synthesised
UNION ALL
SELECT * FROM promoted
