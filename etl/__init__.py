"""Korean-English synonym and hard-negative triplet ETL."""

__version__ = "0.1.0"
