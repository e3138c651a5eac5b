"""The pipeline's steps, in the order data flows through them; each exposes `run(...)` returning a summary.

A step with parts is a package whose `__init__` is the step itself (its `run`, what it reads and
writes, its write mode); a step without parts is one module:

    synth/     seed terms → LLM expansion, translation, sentences (tasks, store, export)
    imports/   pair and term files as they are (readers, lines)
    clean/     terms, synonym pairs and groups (rules, dedupe)
    embed/     a vector per term (hashing, remote, files)
    index.py   the usearch index for `--search ann`
    mine/      negatives by cosine band and the triplets (data, calibration, cost, sample, search, ann,
               tables, stats, shards, parts, on_ray)
    split.py   train / validation by synonym group
    export/    training files and the synonym file (triplets, layouts, card, stats, synonyms)
    report/    one HTML page of plots (figures)
    pipeline/  `etl run`: every step in order, skipped when nothing it reads changed (stages, state)
    inspect.py   `etl status` and `etl sql`
"""
