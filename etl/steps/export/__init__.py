"""`etl export`: files for training jobs and search engines, read from the warehouse, never written back.

- `triplets` — the mined triplets in each training layout, as Parquet, JSONL and Hugging Face
  datasets with their dataset cards (`layouts` builds the layouts' columns, `card` the cards,
  `stats` the stats file's content).
- `synonyms` — the synonym groups as one Solr-format synonym file for OpenSearch / Elasticsearch.

(`etl export synth`, the synthesis notebook's four files, lives with synthesis: etl/steps/synth/export.py.)

Write mode: replace the output as a whole (written beside it, then renamed into place); each export
records a run with what it wrote.
"""
