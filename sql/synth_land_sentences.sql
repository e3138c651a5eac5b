-- Land sentence pairs parsed from LLM answers; grain: one row per (term, ko, en) pair.
-- $run_id: shared; every other parameter is a list, one item per pair.
INSERT INTO parallel_sentences (ko, en, term_ko, term_en, category, call_hash, run_id)
SELECT
    unnest($kos::VARCHAR[]),
    unnest($ens::VARCHAR[]),
    unnest($term_kos::VARCHAR[]),
    unnest($term_ens::VARCHAR[]),
    unnest($categories::VARCHAR[]),
    unnest($call_hashes::VARCHAR[]),
    $run_id
