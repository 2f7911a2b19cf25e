"""Weight formats people deploy: real bits per weight, engines, hardware needs, quality.

The one place format facts live. Bits include block scales (a GGUF q4_K super-block of 256 weights
takes 144 bytes: 4.5 bits per weight). GGUF k-quant "mixes" (q4_k_m, ...) keep some tensors at a
higher type, as llama.cpp's `llama_tensor_get_type` does: the output matrix and, in about half of the
layers (`use_more_bits`), attn_v and ffn_down. AWQ/GPTQ/bitsandbytes/fp8/fp4 checkpoints keep the
embeddings and lm_head in 16-bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_SERVING = ("vllm", "sglang", "tgi", "tensorrt-llm")
GGUF_ENGINES = ("llama.cpp", "ollama")
ENGINES = ("vllm", "sglang", "tgi", "tensorrt-llm", "llama.cpp", "ollama")

# GGUF block types: bits per weight including scales (ggml-common.h block sizes).
GGML_TYPE_BITS: dict[str, float] = {
    "f32": 32.0,
    "f16": 16.0,
    "bf16": 16.0,
    "q8_0": 8.5,
    "q6_k": 6.5625,
    "q5_k": 5.5,
    "q5_0": 5.5,
    "q5_1": 6.0,
    "q4_k": 4.5,
    "q4_0": 4.5,
    "q4_1": 5.0,
    "iq4_xs": 4.25,
    "iq4_nl": 4.5,
    "q3_k": 3.4375,
    "iq3_s": 3.4375,
    "iq3_xxs": 3.0625,
    "q2_k": 2.625,
    "iq2_s": 2.5,
    "iq2_xs": 2.3125,
    "iq2_xxs": 2.0625,
    "iq1_s": 1.5625,
    "iq1_m": 1.75,
    "mxfp4": 4.25,
}


@dataclass(frozen=True)
class QuantFormat:
    """A weight format. Bits are per weight, scales included."""

    name: str
    kind: str  # float | int | gguf | awq | gptq | bnb | fp4
    linear_bits: float  # the bulk of the linear (matmul) weights
    embed_bits: float  # token embedding table
    head_bits: float  # lm_head / output matrix (untied)
    math: str  # arithmetic the engine does: bf16 | fp8 | int8 | fp4
    engines: tuple[str, ...]
    min_compute_capability: float | None = None  # NVIDIA sm needed to run at all (None: any)
    native_math_capability: float | None = None  # sm needed for the math in `math`, else weight-only
    # GGUF mixes: (tensor class, share of layers, ggml type) as llama.cpp's llama_tensor_get_type picks
    mix: tuple[tuple[str, float, str], ...] = ()
    kernel_efficiency: float = 1.0  # share of memory bandwidth decode kernels reach vs 16-bit
    math_efficiency: float = 1.0  # share of the math peak its GEMMs reach relative to 16-bit GEMMs
    quality_retention: tuple[float, float] = (1.0, 1.0)
    quality_source: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def is_gguf(self) -> bool:
        return self.kind == "gguf"


_PPL_SRC = (
    "llama.cpp quantize README / PR #1684 and #6745 perplexity tables (Llama 2/3 7B-70B), "
    "as ranges of retained benchmark quality"
)
_AWQ_SRC = "AWQ paper (Lin et al. 2023) and GPTQ paper (Frantar et al. 2022): <1-3% loss at 4 bits"
_FP8_SRC = "NVIDIA/Neural Magic fp8 evaluations (Llama 3.1 FP8 model cards): ~99-100% recovery"
_NVFP4_SRC = "NVIDIA ModelOpt NVFP4 model cards (DeepSeek-R1, Llama 3.3 70B): ~98-99% recovery"

# use_more_bits(i, n) = i < n/8 or i >= 7n/8 or (i - n/8) % 3 == 2: about half of the layers.
_HALF = 0.5


def _gguf(
    name: str,
    base: str,
    mix: tuple[tuple[str, float, str], ...] = (),
    output: str = "q6_k",
    embed: str | None = None,
    quality: tuple[float, float] = (0.9, 0.98),
    efficiency: float = 0.78,
) -> QuantFormat:
    return QuantFormat(
        name=name,
        kind="gguf",
        linear_bits=GGML_TYPE_BITS[base],
        embed_bits=GGML_TYPE_BITS[embed or base],
        head_bits=GGML_TYPE_BITS[output],
        math="bf16",
        engines=GGUF_ENGINES,
        mix=mix,
        kernel_efficiency=efficiency,
        quality_retention=quality,
        quality_source=_PPL_SRC,
    )


FORMATS: dict[str, QuantFormat] = {
    f.name: f
    for f in [
        QuantFormat(
            "bf16",
            "float",
            16,
            16,
            16,
            "bf16",
            ALL_SERVING + GGUF_ENGINES,
            quality_retention=(1.0, 1.0),
            quality_source="reference precision",
        ),
        QuantFormat(
            "fp16",
            "float",
            16,
            16,
            16,
            "bf16",
            ALL_SERVING + GGUF_ENGINES,
            aliases=("f16",),
            quality_retention=(1.0, 1.0),
            quality_source="reference precision",
        ),
        QuantFormat(
            "fp32",
            "float",
            32,
            32,
            32,
            "bf16",
            ("vllm", "llama.cpp"),
            quality_retention=(1.0, 1.0),
            quality_source="reference precision",
        ),
        # fp8 block/channel scales add well under 0.1 bit per weight.
        QuantFormat(
            "fp8",
            "float",
            8.03,
            16,
            16,
            "fp8",
            ALL_SERVING,
            min_compute_capability=8.0,
            native_math_capability=8.9,
            quality_retention=(0.99, 1.0),
            quality_source=_FP8_SRC,
        ),
        QuantFormat(
            "int8",
            "int",
            8.03,
            16,
            16,
            "int8",
            ALL_SERVING,
            min_compute_capability=7.5,
            native_math_capability=7.5,
            quality_retention=(0.98, 1.0),
            quality_source="Neural Magic w8a8 int8 model cards: 99%+ recovery",
            aliases=("w8a8",),
        ),
        QuantFormat(
            "awq",
            "awq",
            4.25,
            16,
            16,
            "bf16",
            ALL_SERVING,
            min_compute_capability=7.5,
            kernel_efficiency=0.85,
            quality_retention=(0.95, 0.99),
            quality_source=_AWQ_SRC,
            aliases=("awq-int4",),
        ),
        QuantFormat(
            "gptq-int4",
            "gptq",
            4.25,
            16,
            16,
            "bf16",
            ALL_SERVING,
            min_compute_capability=7.5,
            kernel_efficiency=0.85,
            quality_retention=(0.94, 0.99),
            quality_source=_AWQ_SRC,
            aliases=("gptq", "int4", "w4a16"),
        ),
        QuantFormat(
            "gptq-int8",
            "gptq",
            8.25,
            16,
            16,
            "bf16",
            ("vllm", "sglang", "tgi"),
            min_compute_capability=7.5,
            kernel_efficiency=0.9,
            quality_retention=(0.98, 1.0),
            quality_source=_AWQ_SRC,
        ),
        QuantFormat(
            "bnb-nf4",
            "bnb",
            4.127,
            16,
            16,
            "bf16",
            ("vllm", "tgi"),
            kernel_efficiency=0.5,
            quality_retention=(0.94, 0.98),
            quality_source="QLoRA paper (Dettmers et al. 2023): NF4 with double quantization",
            aliases=("nf4",),
        ),
        QuantFormat(
            "bnb-int8",
            "bnb",
            8.0625,
            16,
            16,
            "bf16",
            ("vllm", "tgi"),
            kernel_efficiency=0.35,
            quality_retention=(0.98, 1.0),
            quality_source="LLM.int8() paper (Dettmers et al. 2022): no degradation up to 175B",
        ),
        # mxfp4: 32-value blocks, one e8m0 scale byte: 4.25 bits. Weight-only (Marlin/Triton) before Blackwell.
        QuantFormat(
            "mxfp4",
            "fp4",
            4.25,
            16,
            16,
            "fp4",
            ALL_SERVING + GGUF_ENGINES,
            min_compute_capability=7.5,
            native_math_capability=10.0,
            kernel_efficiency=0.85,
            math_efficiency=0.6,
            quality_retention=(0.95, 0.99),
            quality_source="OpenAI gpt-oss model card (native mxfp4 MoE weights)",
        ),
        # nvfp4: 16-value blocks with an fp8 (e4m3) scale plus a per-tensor fp32 scale: 4.5 bits.
        # fp4 GEMMs reach ~60% of the share of peak 8/16-bit GEMMs do (TensorRT-LLM 1.0 measurements)
        # Before Blackwell vLLM and SGLang run it weight-only (Marlin FP4, sm 8.0+); TensorRT-LLM needs 10.0.
        QuantFormat(
            "nvfp4",
            "fp4",
            4.5,
            16,
            16,
            "fp4",
            ("vllm", "sglang", "tensorrt-llm"),
            min_compute_capability=8.0,
            native_math_capability=10.0,
            kernel_efficiency=0.9,
            math_efficiency=0.6,
            quality_retention=(0.97, 0.995),
            quality_source=_NVFP4_SRC,
        ),
        _gguf("q8_0", "q8_0", output="q8_0", quality=(0.99, 1.0), efficiency=0.85),
        _gguf("q6_k", "q6_k", quality=(0.98, 1.0), efficiency=0.8),
        _gguf("q5_k_m", "q5_k", (("attn_v", _HALF, "q6_k"), ("ffn_down", _HALF, "q6_k")), quality=(0.97, 0.995)),
        _gguf("q5_k_s", "q5_k", quality=(0.96, 0.99)),
        _gguf("q4_k_m", "q4_k", (("attn_v", _HALF, "q6_k"), ("ffn_down", _HALF, "q6_k")), quality=(0.95, 0.99)),
        _gguf("q4_k_s", "q4_k", (("attn_v", 0.05, "q5_k"), ("ffn_down", 1 / 8, "q5_k")), quality=(0.94, 0.98)),
        # legacy q4_0 files (the Dec 2023 Llama 2 set measured here) keep the token embeddings in f16
        _gguf("q4_0", "q4_0", embed="f16", quality=(0.92, 0.97)),
        _gguf("iq4_xs", "iq4_xs", (("attn_v", 1.0, "q5_k"),), quality=(0.94, 0.98)),
        _gguf("iq4_nl", "iq4_nl", (("attn_v", 1.0, "q5_k"),), quality=(0.94, 0.98)),
        _gguf(
            "q3_k_m",
            "q3_k",
            (("attn_v", 1.0, "q4_k"), ("ffn_down", 1.0, "q4_k"), ("attn_output", 1.0, "q4_k")),
            quality=(0.88, 0.95),
        ),
        _gguf("q3_k_s", "q3_k", quality=(0.85, 0.93)),
        _gguf(
            "q3_k_l",
            "q3_k",
            (("attn_v", 1.0, "q5_k"), ("ffn_down", 1.0, "q5_k"), ("attn_output", 1.0, "q5_k")),
            quality=(0.89, 0.96),
        ),
        _gguf(
            "q2_k",
            "q2_k",
            (("attn_v", 1.0, "q4_k"), ("ffn_down", 1.0, "q3_k"), ("attn_output", 1.0, "q3_k")),
            embed="q2_k",
            quality=(0.75, 0.88),
        ),
        _gguf(
            "q2_k_s", "q2_k", (("attn_v", 1.0, "q4_k"), ("ffn_down", 1 / 8, "q4_k")), embed="q2_k", quality=(0.7, 0.85)
        ),
        _gguf(
            "iq3_m",
            "iq3_s",
            (("attn_v", 1.0, "q4_k"), ("attn_output", 1.0, "q4_k"), ("ffn_down", 1 / 8, "q4_k")),
            quality=(0.86, 0.94),
        ),
        _gguf("iq3_s", "iq3_s", (("attn_v", 1.0, "q4_k"),), quality=(0.85, 0.93)),
        _gguf(
            "iq3_xs",
            "iq3_xxs",
            (("attn_v", 1.0, "q4_k"), ("ffn_down", 1.0, "iq3_s"), ("attn_output", 1.0, "iq3_s")),
            quality=(0.83, 0.92),
        ),
        _gguf("iq3_xxs", "iq3_xxs", (("attn_v", 1.0, "q4_k"),), quality=(0.82, 0.91)),
        _gguf(
            "iq2_m",
            "iq2_s",
            (("attn_v", 1.0, "q4_k"), ("ffn_down", 1 / 8, "q3_k"), ("attn_output", 1.0, "iq3_s")),
            embed="q2_k",
            quality=(0.75, 0.88),
        ),
        _gguf(
            "iq2_s",
            "iq2_xs",
            (("attn_v", 1.0, "q4_k"), ("ffn_down", 1.0, "iq2_s"), ("attn_output", 1.0, "iq2_s")),
            embed="q2_k",
            quality=(0.72, 0.86),
        ),
        _gguf("iq2_xs", "iq2_xs", (("attn_v", 1.0, "q4_k"),), embed="q2_k", quality=(0.7, 0.85)),
        _gguf("iq2_xxs", "iq2_xxs", (("attn_v", 1.0, "q4_k"),), embed="q2_k", quality=(0.65, 0.82)),
    ]
}

# bf16 arithmetic arrived with Ampere (sm 8.0); V100 (7.0) and T4 (7.5) run 16-bit models in fp16
BF16_MIN_COMPUTE_CAPABILITY = 8.0


def lacks_bf16(vendor: str, compute_capability: float | None) -> bool:
    """NVIDIA GPUs before Ampere have no bf16 math: a bf16 model runs there as fp16 (same bytes)."""
    return vendor == "nvidia" and compute_capability is not None and compute_capability < BF16_MIN_COMPUTE_CAPABILITY


_ALIASES = {alias: f.name for f in FORMATS.values() for alias in f.aliases}
_ALIASES.update({"float16": "fp16", "bfloat16": "bf16", "float32": "fp32", "e4m3": "fp8", "fp8_e4m3": "fp8"})

# KV cache element sizes (bytes per element, q8_0/q4_0 caches include their block scales).
KV_DTYPE_BYTES: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "q8_0": 34 / 32,
    "q4_0": 18 / 32,
}
_KV_ALIASES = {
    "f16": "fp16",
    "float16": "fp16",
    "bfloat16": "bf16",
    "float32": "fp32",
    "f32": "fp32",
    "fp8_e4m3": "fp8",
    "fp8_e5m2": "fp8",
    "auto": "auto",
}


# What people deploy most in each size class: a substitute is taken from these first.
MAINSTREAM = ("bf16", "fp16", "fp8", "int8", "awq", "gptq-int4", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q3_k_m", "q2_k")


def closest_formats(name: str) -> list[str]:
    """Other formats ordered by closeness: whole bits per weight apart, mainstream first, then exact bits
    and retained quality. `compare` uses it to put a device in the race in the format it does run
    (fp8 -> q8_0, awq -> q4_k_m on Apple)."""
    target = FORMATS[name]

    def key(f: QuantFormat) -> tuple:
        gap = abs(f.linear_bits - target.linear_bits)
        return int(gap), f.name not in MAINSTREAM, round(gap, 3), -f.quality_retention[0], f.name

    return [f.name for f in sorted((f for f in FORMATS.values() if f.name != target.name), key=key)]


def _spelling(name: str) -> str:
    """One spelling for every way people write a format: case, `-` and `_` do not matter."""
    return name.strip().lower().replace("-", "_")


# every name and alias under its one spelling (`gptq_int4` and `q4-k-m` find `gptq-int4` and `q4_k_m`)
_BY_SPELLING = {_spelling(k): v for k, v in {**_ALIASES, **{name: name for name in FORMATS}}.items()}


def canonical_quant(name: str) -> str | None:
    return _BY_SPELLING.get(_spelling(name))


def canonical_kv_dtype(name: str) -> str | None:
    key = name.strip().lower()
    key = _KV_ALIASES.get(key, key)
    if key == "auto" or key in KV_DTYPE_BYTES:
        return key
    return None


def gguf_effective_bits(fmt: QuantFormat, tensor_shares: dict[str, float], gqa: int = 1) -> float:
    """Mean bits of a model's body linear weights under a GGUF mix.

    `tensor_shares` gives the share of body linear weights in attn_v, attn_output and ffn_down. Models
    with 8 query heads per KV head get attn_v raised from q3_K/q4_K to q5_K, as llama.cpp does for
    70B-class models whose attn_v is 8x smaller than attn_q.
    """
    bits = fmt.linear_bits
    for tensor, layer_share, ggml_type in fmt.mix:
        if tensor == "attn_v" and gqa >= 8 and ggml_type in ("q3_k", "q4_k"):
            ggml_type = "q5_k"
        bits += (GGML_TYPE_BITS[ggml_type] - fmt.linear_bits) * layer_share * tensor_shares.get(tensor, 0.0)
    if (
        gqa >= 8
        and fmt.linear_bits in (GGML_TYPE_BITS["q3_k"], GGML_TYPE_BITS["q4_k"])
        and not any(t == "attn_v" for t, _, _ in fmt.mix)
    ):
        bits += (GGML_TYPE_BITS["q5_k"] - fmt.linear_bits) * tensor_shares.get("attn_v", 0.0)
    return bits
