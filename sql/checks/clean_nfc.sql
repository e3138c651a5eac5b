-- Terms whose text is not clean: not NFC, untrimmed, repeated or non-space whitespace,
-- invisible characters, or empty; one row per bad term.
SELECT term_id, text
FROM terms
WHERE text <> nfc_normalize(text)
   OR text <> trim(text)
   OR regexp_matches(text, '\s\s|[\t\n\r\f\v]')
   OR regexp_matches(text, '[\x{00AD}\x{200B}-\x{200F}\x{2060}-\x{2064}\x{FEFF}]')
   OR text = ''
