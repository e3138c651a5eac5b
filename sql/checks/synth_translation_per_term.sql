-- Rule: each Korean term has at most one translation, with an English (Hangul-free) primary.
-- Grain: one row per Korean term that breaks it.
SELECT ko, count(*) AS copies, any_value(en_primary) AS en_primary
FROM translations
GROUP BY ko
HAVING count(*) > 1
    OR bool_or(trim(en_primary) = '')
    OR bool_or(regexp_matches(en_primary, '[가-힣]'))
