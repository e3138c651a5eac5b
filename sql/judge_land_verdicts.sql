-- Land verdicts staged as `judge_verdicts`; a pair answered again (a cached answer landed twice)
-- keeps one row with the newest answer. Grain: one row per (anchor_id, negative_id, trial).
INSERT INTO negative_judgements (
    anchor_id, negative_id, trial, band, similarity, verdict, reason, call_hash, run_id
)
SELECT anchor_id, negative_id, trial, band, similarity, verdict, reason, call_hash, run_id
FROM judge_verdicts
ON CONFLICT (anchor_id, negative_id, trial) DO UPDATE SET
    band = excluded.band,
    similarity = excluded.similarity,
    verdict = excluded.verdict,
    reason = excluded.reason,
    call_hash = excluded.call_hash,
    run_id = excluded.run_id
