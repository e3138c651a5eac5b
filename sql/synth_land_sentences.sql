-- Land the sentence pairs parsed from one LLM answer; grain: one row per (ko, en) pair.
-- $term_ko, $term_en, $category, $call_hash, $run_id; $kos, $ens: parallel lists.
INSERT INTO parallel_sentences (ko, en, term_ko, term_en, category, call_hash, run_id)
SELECT
    unnest($kos),
    unnest($ens),
    $term_ko,
    $term_en,
    $category,
    $call_hash,
    $run_id
