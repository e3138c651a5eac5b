-- `etl show imported-pairs`: synonym pairs as imported, with their similarity; grain: one row per input line.
-- $random orders by a seeded hash of the row ($seed), else by file and line.
SELECT
    p.source,
    p.target,
    p.similarity,
    p.file,
    p.line,
    count(*) OVER () AS total_rows
FROM imported_pairs p
ORDER BY CASE WHEN $random THEN hash(p.file, p.line, $seed) END, p.file, p.line
LIMIT $n
