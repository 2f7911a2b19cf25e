"""The use cases built on the core: deployments, fit checks in CI, compare, breakeven, validation."""
