"""Cohort audit: read many patient snapshots, decide each one, write one result row per snapshot.

``crs-model cohort`` and ``crs-model cohort-gen`` are its front ends. Modules:
:mod:`~crs_model.cohort.columns` (the input and result schemas, from the spec),
:mod:`~crs_model.cohort.readers` (Parquet, CSV and JSONL in bounded batches),
:mod:`~crs_model.cohort.writers` (Parquet, JSONL and CSV tables), :mod:`~crs_model.cohort.runner`
(the python engine over a stream) and :mod:`~crs_model.cohort.generate` (a seeded synthetic
cohort). They need the ``cohort`` extra (DuckDB, pyarrow); ``import crs_model`` never loads it.
"""
