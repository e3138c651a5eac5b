-- Land translations parsed from LLM answers; grain: one row per Korean term.
-- $run_id: shared; every other parameter is a list, one item per term.
INSERT INTO translations (ko, en_primary, en_alternatives, abbreviation, category, call_hash, run_id)
SELECT
    unnest($kos::VARCHAR[]),
    unnest($en_primaries::VARCHAR[]),
    unnest($en_alternatives::VARCHAR[][]),
    unnest($abbreviations::VARCHAR[]),
    unnest($categories::VARCHAR[]),
    unnest($call_hashes::VARCHAR[]),
    $run_id
