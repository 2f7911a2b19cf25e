"""The shipped tables (models, GPUs and prices, API prices), their schemas, loading and merging."""
