-- Rule: a sentence pair is landed once per term, and its Korean side has Hangul.
-- Grain: one row per (term_ko, ko, en) that breaks it.
SELECT term_ko, ko, en, count(*) AS copies
FROM parallel_sentences
GROUP BY term_ko, ko, en
HAVING count(*) > 1 OR NOT regexp_matches(ko, '[가-힣]')
