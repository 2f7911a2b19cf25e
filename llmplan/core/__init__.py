"""The pure domain core: memory, performance, capacity and cost formulas, and the report objects."""
