"""Multi-omics variant store: VCF/BCF ingest into Parquet, DuckDB queries, sample links and cohorts.

Other domains may import only what is listed here.
"""
