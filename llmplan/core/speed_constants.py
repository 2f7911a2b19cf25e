"""The performance model's global constants: what the measured kernel curves (GEMM, grouped MoE, attention,
collectives) do not cover.

They are fitted by `benchmarks/fit_speed.py` (rerunnable) on the calibration rows and stored in
data/kernels/speed_constants.json; the accuracy test refits them without each GPU, model and source. Every
constant enters a step's time linearly (as itself, or as its inverse for an efficiency), which is what lets the
refit run in milliseconds. Engines share them by group (engine profile `speed_group`): tensorrt-llm, serving
(vLLM, SGLang, TGI) and llama.cpp (llama.cpp, Ollama); llama.cpp's own kernels get their efficiencies per
device class, since no measured curve covers them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from functools import lru_cache

DEVICE_CLASSES = ("consumer", "workstation", "datacenter", "apple", "unified", "cpu")


@dataclass(frozen=True)
class SpeedConstants:
    prefill_layer_s: float = 3e-5  # launches per layer of a prefill chunk (no CUDA graph)
    per_sequence_s: float = 5e-6  # host time per sequence per step: scheduling, sampling, detokenizing
    decode_step_trt_s: float = 2e-4  # framework time per decode step (CUDA graphs replayed)
    decode_step_serving_s: float = 4e-4
    decode_step_llamacpp_s: float = 3e-4
    llamacpp_layer_s: float = 4e-5  # llama.cpp launches and syncs per layer per step (no graphs)
    request_trt_s: float = 0.01  # per request: HTTP, tokenizing, scheduling, detokenizing
    request_serving_s: float = 0.02
    request_llamacpp_s: float = 0.01
    # llama.cpp's mat-vec (decode) and mat-mat (prefill) kernels: share of datasheet bandwidth and tensor peak
    llamacpp_bw_consumer: float = 0.90
    llamacpp_bw_workstation: float = 0.90
    llamacpp_bw_datacenter: float = 0.55
    llamacpp_bw_apple: float = 0.80
    llamacpp_bw_unified: float = 0.85
    llamacpp_bw_cpu: float = 0.60
    llamacpp_math_consumer: float = 0.90
    llamacpp_math_workstation: float = 0.45
    llamacpp_math_datacenter: float = 0.42
    llamacpp_math_apple: float = 0.70
    llamacpp_math_unified: float = 0.50
    llamacpp_math_cpu: float = 0.50

    def decode_step_s(self, group: str) -> float:
        return {"tensorrt-llm": self.decode_step_trt_s, "serving": self.decode_step_serving_s}.get(
            group, self.decode_step_llamacpp_s
        )

    def request_s(self, group: str) -> float:
        return {"tensorrt-llm": self.request_trt_s, "serving": self.request_serving_s}.get(
            group, self.request_llamacpp_s
        )

    def llamacpp_bandwidth_eff(self, device_class: str) -> float:
        return getattr(self, f"llamacpp_bw_{device_class}", self.llamacpp_bw_datacenter)

    def llamacpp_math_eff(self, device_class: str) -> float:
        return getattr(self, f"llamacpp_math_{device_class}", self.llamacpp_math_datacenter)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @staticmethod
    def is_efficiency(name: str) -> bool:
        """Efficiencies divide a time (they enter as 1/x); the rest are seconds added to it."""
        return name.endswith("_eff") or name.startswith(("llamacpp_bw_", "llamacpp_math_"))

    def linear(self) -> list[float]:
        """The constants as the coefficients a step's time is linear in (1/x for efficiencies)."""
        return [1.0 / getattr(self, n) if self.is_efficiency(n) else getattr(self, n) for n in self.names()]

    @classmethod
    def from_linear(cls, values) -> "SpeedConstants":
        out = {}
        for name, v in zip(cls.names(), values):
            v = float(v)
            out[name] = (1.0 / v if v > 0 else float("inf")) if cls.is_efficiency(name) else v
        return cls(**out)


@lru_cache(maxsize=1)
def speed_constants() -> SpeedConstants:
    """The shipped fit (defaults above where the file lacks a name)."""
    from llmplan.catalog.loader import shipped_data_dir

    path = shipped_data_dir() / "kernels" / "speed_constants.json"
    if not path.exists():
        return SpeedConstants()
    with open(path, encoding="utf-8") as fh:
        stored = json.load(fh)["constants"]
    return SpeedConstants(**{k: float(v) for k, v in stored.items() if k in SpeedConstants.names()})
