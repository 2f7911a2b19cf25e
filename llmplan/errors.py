"""One exception family; the CLI maps every one of them to a one-line message and exit code 2.

Exit codes, the same in every command: 0 success; 1 a limit or target not met (`check`); 2 bad input;
3 an internal error (a bug in llmplan: one line saying where to report it).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_LIMIT = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3
ISSUES_URL = "https://github.com/your-org/llmplan/issues"

# `\b` keeps the help formatter from re-wrapping the lines (and cutting the address in two)
EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0  success\n"
    "  1  a limit or target not met (check)\n"
    "  2  bad input: a one-line error saying what is wrong and how to fix it\n"
    f"  3  internal error: a bug in llmplan; please report it at\n     {ISSUES_URL}"
)


def internal_error_message(exc: BaseException) -> str:
    """The one line a bug is shown as: what broke, how to see more, where to report it."""
    detail = " ".join(str(exc).split())
    what = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return (f"internal error ({what}); this is a bug in llmplan: please report it at {ISSUES_URL} "
            "(rerun with LLMPLAN_DEBUG=1 for the traceback)")


class LlmplanError(Exception):
    """Base class of every error llmplan reports to a user (exit code 2)."""

    exit_code = EXIT_INPUT


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
