"""llmplan: capacity and cost planner for self-hosted LLMs."""

__version__ = "0.1.0"
