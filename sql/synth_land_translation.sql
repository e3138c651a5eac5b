-- Land the translation parsed from one LLM answer; grain: one row per Korean term.
INSERT INTO translations (ko, en_primary, en_alternatives, abbreviation, category, call_hash, run_id)
VALUES ($ko, $en_primary, $en_alternatives::VARCHAR[], $abbreviation, $category, $call_hash, $run_id)
