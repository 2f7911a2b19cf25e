"""One exception family; the CLI maps every one of them to a one-line message and exit code 2."""

from __future__ import annotations


class LlmplanError(Exception):
    """Base class of every error llmplan reports to a user (exit code 2)."""

    exit_code = 2


class CatalogError(LlmplanError):
    """A catalog file (shipped or user-supplied) is missing, unreadable or invalid."""


class UnknownModelError(LlmplanError):
    """A model id that no catalog, hub or local file knows."""


class UnknownGpuError(LlmplanError):
    """A GPU id that the catalog does not know."""


class UnsupportedError(LlmplanError):
    """A combination that cannot run (a format the engine cannot execute, ...)."""


class ConfigError(LlmplanError):
    """A model config.json / GGUF header that cannot be read into an architecture."""


class HubError(LlmplanError):
    """The Hugging Face hub could not be reached or refused the request."""


class PlanError(LlmplanError):
    """A deployment plan (llmplan check) is invalid."""


class InputError(LlmplanError):
    """A command-line value that is out of range or malformed."""
