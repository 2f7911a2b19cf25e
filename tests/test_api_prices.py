"""The shipped API prices against pydantic/genai-prices, a kept-current public price library (read offline).

Every offering genai-prices knows must match within 1%, except the few listed below, each with the reason
and the provider's own page that decides it. genai-prices is pinned (test extra), so its data is fixed.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from conftest import DATA  # noqa: F401  (tests/ on the path)

genai_prices = pytest.importorskip("genai_prices")

# Our provider names -> genai-prices provider ids
PROVIDERS = {"xai": "x-ai", "bedrock": "aws", "moonshot": "moonshotai"}
# A weekday inside DeepSeek's peak window (UTC 01:00-04:00): our table lists DeepSeek's peak rates, the
# upper bound; genai-prices applies time-of-day prices, so the comparison needs a fixed instant.
WHEN = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc)
EXCEPTIONS = {
    "mistral/mistral-large-latest": "`latest` is Mistral Large 3 (2512) at 0.50/1.50 on https://mistral.ai/pricing/api; "
    "genai-prices matches the name to Mistral Large 2 (2.00/6.00)",
    "deepseek/deepseek-chat": "DeepSeek's pricing page (https://api-docs.deepseek.com/quick_start/pricing, V3.2, as "
    "quoted 2026-04-13) lists 0.28/0.42; genai-prices keeps the early-2025 V3 rate 0.27/1.10",
    "deepseek/deepseek-reasoner": "same page: 0.28/0.42 for V3.2 thinking mode; genai-prices keeps R1's 0.55/2.19",
    "deepseek/deepseek-v3.2": "DeepSeek's page lists 0.28/0.42; genai-prices has 0.2288/0.3432 without a source",
    "together/meta-llama/Llama-3.3-70B-Instruct-Turbo": "Together's model list (as LiteLLM 1.110.2 read it) says "
    "1.04; genai-prices has the 2024 list price 0.88; the "
    "offering is deprecated (2026-10-22)",
}


def _ours():
    with open(DATA.parent.parent / "data" / "api_prices.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)["apis"]


def _theirs(entry: dict) -> tuple[float, float] | None:
    from genai_prices import Usage, calc_price

    provider = PROVIDERS.get(entry["provider"], entry["provider"])
    try:
        # 1,000 tokens, scaled: a million would trigger long-context tiers
        pin = calc_price(
            Usage(input_tokens=1000, output_tokens=0),
            model_ref=entry["model"],
            provider_id=provider,
            genai_request_timestamp=WHEN,
        )
        pout = calc_price(
            Usage(input_tokens=0, output_tokens=1000),
            model_ref=entry["model"],
            provider_id=provider,
            genai_request_timestamp=WHEN,
        )
    except LookupError:
        return None
    return float(pin.input_price) * 1000, float(pout.output_price) * 1000


def test_prices_match_genai_prices_except_documented():
    ours = _ours()
    compared, mismatches = 0, {}
    for key, entry in ours.items():
        theirs = _theirs(entry)
        if theirs is None:
            continue
        compared += 1
        mine = (entry["input_usd_per_mtok"], entry["output_usd_per_mtok"])
        if any(abs(a - b) > 0.01 * max(b, 1e-9) + 1e-9 for a, b in zip(mine, theirs)):
            mismatches[key] = (mine, theirs)
    assert compared >= 40, compared
    unexplained = {k: v for k, v in mismatches.items() if k not in EXCEPTIONS}
    assert not unexplained, unexplained
    stale = set(EXCEPTIONS) - set(mismatches)
    assert not stale, f"exceptions that now match (drop them): {stale}"
    assert len(EXCEPTIONS) <= 5


def test_every_price_has_a_source_and_a_past_date():
    import datetime as dt

    for key, entry in _ours().items():
        assert entry.get("source"), key
        assert entry["as_of"] <= dt.date(2026, 12, 4), key
