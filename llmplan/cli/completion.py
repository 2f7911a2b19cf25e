"""Shell completion of the names people type: model, GPU, weight-format and engine ids from the catalog.

Each function loads what it completes only when the shell asks (never at import), so `llmplan --help` and
every command pay nothing for it. Matching is by prefix, case-insensitive.
"""

from __future__ import annotations

import re


def _starting(names, incomplete: str) -> list[str]:
    prefix = (incomplete or "").lower()
    return [n for n in dict.fromkeys(names) if n.lower().startswith(prefix)]


def _catalog():
    from llmplan.catalog.loader import Catalog

    return Catalog()


def complete_model(incomplete: str) -> list[str]:
    """Catalog model ids (Hugging Face repo ids) and their aliases."""
    try:
        models = _catalog().models
    except Exception:  # a broken user catalog must not break the shell
        return []
    names = [alias for e in models.values() for alias in e.aliases] + list(models)
    return _starting(names, incomplete)


def complete_gpu(incomplete: str) -> list[str]:
    """GPU ids (aliases where no id matches); after `Nx` (as in `4xh1`), the same with that count."""
    try:
        gpus = _catalog().gpus
    except Exception:
        return []
    aliases = [alias for e in gpus.values() for alias in e.aliases]
    count, rest = "", incomplete or ""
    match = re.match(r"^(\d+)x(.*)$", rest, re.IGNORECASE)
    if match and int(match.group(1)) >= 1:
        count, rest = f"{match.group(1)}x", match.group(2)
    names = _starting(gpus, rest) or _starting(aliases, rest)  # aliases only where no id matches
    return [count + n for n in names]


def complete_gpu_or_all(incomplete: str) -> list[str]:
    """`compare --gpu`: the GPU ids, and `all` for the whole catalog."""
    return _starting(["all"], incomplete) + complete_gpu(incomplete)


def complete_quant(incomplete: str) -> list[str]:
    """Weight formats llmplan knows (bf16, fp8, awq, GGUF k-quants, ...)."""
    from llmplan.engines.formats import FORMATS

    return _starting(FORMATS, incomplete)


def complete_engine(incomplete: str) -> list[str]:
    """Serving engines."""
    from llmplan.engines.formats import ENGINES

    return _starting(ENGINES, incomplete)
