"""A loopback Hugging Face hub for the tests: just enough of the Hub API for huggingface_hub 2.x.

Endpoints (all on 127.0.0.1, a free port):
  GET  /api/models/{org}/{name}[/revision/{rev}]     model info: id, sha, gated, siblings, cardData
  HEAD /{org}/{name}/resolve/{rev}/{file}             X-Repo-Commit, ETag, Content-Length (hf_hub_download)
  GET  /{org}/{name}/resolve/{rev}/{file}             the file, or a byte range (Range: bytes=a-b -> 206)

Faults, per repo:
  gated      model info answers; files answer 401 with X-Error-Code: GatedRepo unless the request carries
             `Authorization: Bearer <token>` with the repo's token
  forbidden  files answer 403 (no error code: a token without access)
  error      every endpoint of the repo answers 500
  hang       the connection is accepted and never answered (until the server stops)
  hang-files model info answers, file requests hang (huggingface_hub's download retries kick in there)
Repos that are not registered answer 404 with X-Error-Code: RepoNotFound, missing files 404 EntryNotFound.

Helpers build safetensors files (the 8-byte little-endian header length, the JSON header, and zero
data bytes only when asked: huggingface_hub reads the header alone through range requests) and the
tensor tables of Llama / Qwen3 (dense, MoE) checkpoints from a config.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
}

Tensors = dict[str, tuple[str, list[int]]]  # name -> (dtype, shape)


# ------------------------------------------------------------------------------------ safetensors


def safetensors_bytes(tensors: Tensors, *, with_data: bool = False, metadata: dict[str, str] | None = None) -> bytes:
    """A safetensors file: header length, JSON header (padded to 8 bytes), then the data if asked."""
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    offset = 0
    for name, (dtype, shape) in tensors.items():
        size = math.prod(shape) * DTYPE_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    out = struct.pack("<Q", len(raw)) + raw
    return out + bytes(offset) if with_data else out


def numel(tensors: Tensors, skip: tuple[str, ...] = ()) -> int:
    return sum(math.prod(shape) for name, (_, shape) in tensors.items() if not name.endswith(skip))


def decoder_tensors(config: dict[str, Any], dtype: str = "BF16") -> Tensors:
    """The tensor table of a Llama / Qwen3 / Qwen3-MoE checkpoint with this config.json."""
    h = config["hidden_size"]
    layers = config["num_hidden_layers"]
    heads = config["num_attention_heads"]
    kv = config.get("num_key_value_heads", heads)
    hd = config.get("head_dim") or h // heads
    vocab = config["vocab_size"]
    inter = config["intermediate_size"]
    experts = config.get("num_experts") or config.get("num_local_experts") or 0
    moe_inter = config.get("moe_intermediate_size", inter)
    qk_norm = config.get("model_type", "").startswith("qwen3")
    t: Tensors = {"model.embed_tokens.weight": (dtype, [vocab, h])}
    for i in range(layers):
        p = f"model.layers.{i}"
        t[f"{p}.input_layernorm.weight"] = (dtype, [h])
        t[f"{p}.post_attention_layernorm.weight"] = (dtype, [h])
        t[f"{p}.self_attn.q_proj.weight"] = (dtype, [heads * hd, h])
        t[f"{p}.self_attn.k_proj.weight"] = (dtype, [kv * hd, h])
        t[f"{p}.self_attn.v_proj.weight"] = (dtype, [kv * hd, h])
        t[f"{p}.self_attn.o_proj.weight"] = (dtype, [h, heads * hd])
        if qk_norm:
            t[f"{p}.self_attn.q_norm.weight"] = (dtype, [hd])
            t[f"{p}.self_attn.k_norm.weight"] = (dtype, [hd])
        if experts:
            t[f"{p}.mlp.gate.weight"] = (dtype, [experts, h])
            for e in range(experts):
                t[f"{p}.mlp.experts.{e}.gate_proj.weight"] = (dtype, [moe_inter, h])
                t[f"{p}.mlp.experts.{e}.up_proj.weight"] = (dtype, [moe_inter, h])
                t[f"{p}.mlp.experts.{e}.down_proj.weight"] = (dtype, [h, moe_inter])
        else:
            t[f"{p}.mlp.gate_proj.weight"] = (dtype, [inter, h])
            t[f"{p}.mlp.up_proj.weight"] = (dtype, [inter, h])
            t[f"{p}.mlp.down_proj.weight"] = (dtype, [h, inter])
    t["model.norm.weight"] = (dtype, [h])
    if not config.get("tie_word_embeddings", False):
        t["lm_head.weight"] = (dtype, [vocab, h])
    return t


def fp8_block_quantized(tensors: Tensors, block: int = 128) -> Tensors:
    """The same checkpoint as DeepSeek/Qwen fp8 repos store it: projection weights in F8_E4M3 with a
    float32 weight_scale_inv per 128x128 block; norms, embeddings and lm_head stay 16-bit."""
    out: Tensors = {}
    for name, (dtype, shape) in tensors.items():
        if name.endswith("proj.weight") and len(shape) == 2:
            out[name] = ("F8_E4M3", shape)
            out[name + "_scale_inv"] = ("F32", [-(-shape[0] // block), -(-shape[1] // block)])
        else:
            out[name] = (dtype, shape)
    return out


def awq_quantized(tensors: Tensors, group: int = 128) -> Tensors:
    """AWQ GEMM layout: qweight int32 [in, out/8] (eight 4-bit values each), qzeros, fp16 scales."""
    out: Tensors = {}
    for name, (_dtype, shape) in tensors.items():
        if name.endswith("proj.weight") and len(shape) == 2:
            rows, cols = shape  # torch Linear weight: [out, in]
            base = name[: -len(".weight")]
            out[f"{base}.qweight"] = ("I32", [cols, rows // 8])
            out[f"{base}.qzeros"] = ("I32", [cols // group, rows // 8])
            out[f"{base}.scales"] = ("F16", [cols // group, rows])
        else:
            out[name] = ("F16", shape)
    return out


def shard(tensors: Tensors, parts: int, prefix: str = "model") -> dict[str, bytes]:
    """Split a tensor table into `parts` header-only shards plus model.safetensors.index.json."""
    names = list(tensors)
    per = -(-len(names) // parts)
    files: dict[str, bytes] = {}
    weight_map: dict[str, str] = {}
    total = 0
    for i in range(parts):
        fname = f"{prefix}-{i + 1:05d}-of-{parts:05d}.safetensors"
        chunk = {n: tensors[n] for n in names[i * per : (i + 1) * per]}
        files[fname] = safetensors_bytes(chunk)
        for n, (dtype, shape) in chunk.items():
            weight_map[n] = fname
            total += math.prod(shape) * DTYPE_BYTES[dtype]
    files[f"{prefix}.safetensors.index.json"] = json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1
    ).encode()
    return files


# ------------------------------------------------------------------------------------------ server


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    fault: str | None = None  # gated | forbidden | error | hang | hang-files
    token: str | None = None  # the token that opens a gated repo
    license: str | None = None
    sha: str = field(default="")

    def __post_init__(self) -> None:
        if not self.sha:
            digest = hashlib.sha1(self.repo_id.encode())
            for name in sorted(self.files):
                digest.update(name.encode() + hashlib.sha1(self.files[name]).digest())
            self.sha = digest.hexdigest()


_RESOLVE = re.compile(r"^/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")
_INFO = re.compile(r"^/api/models/([^/]+/[^/]+?)(?:/revision/([^/]+))?/?$")


class LoopbackHub:
    """A threaded HTTP server on 127.0.0.1 that serves registered repos. Use as a context manager."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, headers)
        self._stop = threading.Event()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "loopback-hub/1"

            def log_message(self, *args: Any) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:
                hub._handle(self, "GET")

            def do_HEAD(self) -> None:
                hub._handle(self, "HEAD")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="loopback-hub"
        )

    # ---------------------------------------------------------------------------------- setup
    @property
    def endpoint(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, repo_id: str, files: dict[str, bytes | str | dict], **kw: Any) -> Repo:
        encoded = {}
        for name, content in files.items():
            if isinstance(content, dict):
                content = json.dumps(content, indent=2)
            encoded[name] = content.encode() if isinstance(content, str) else content
        repo = Repo(repo_id, encoded, **kw)
        self.repos[repo_id.lower()] = repo
        return repo

    def start(self) -> "LoopbackHub":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases hanging handlers: they close their connections unanswered
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "LoopbackHub":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def requests_for(self, repo_id: str) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.requests if f"/{repo_id}/" in r[1] or r[1].endswith(f"/{repo_id}")]

    # -------------------------------------------------------------------------------- serving
    def _send(
        self,
        h: BaseHTTPRequestHandler,
        method: str,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> None:
        h.send_response(status)
        for key, value in (headers or {}).items():
            h.send_header(key, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if method != "HEAD" and body:
            h.wfile.write(body)

    def _error(
        self,
        h: BaseHTTPRequestHandler,
        method: str,
        status: int,
        code: str | None,
        message: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message, **(extra or {})}
        if code:
            headers["X-Error-Code"] = code
        self._send(h, method, status, json.dumps({"error": message}).encode(), headers)

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        path = unquote(urlsplit(h.path).path)
        self.requests.append((method, path, {k.lower(): v for k, v in h.headers.items()}))
        info = _INFO.match(path)
        resolve = _RESOLVE.match(path)
        repo_id = (info or resolve).group(1) if (info or resolve) else None
        repo = self.repos.get(repo_id.lower()) if repo_id else None
        if repo_id is None:
            return self._error(h, method, 404, None, "Not Found")
        if repo is None:
            return self._error(h, method, 404, "RepoNotFound", "Repository not found")
        if repo.fault == "hang" or (repo.fault == "hang-files" and resolve):
            self._stop.wait()  # never answer; the connection closes when the server stops
            h.close_connection = True
            return None
        if repo.fault == "error":
            return self._error(
                h, method, 500, None, "Internal Error - We're working hard to fix this as soon as possible!"
            )
        if info:
            return self._model_info(h, method, repo)
        assert resolve is not None
        return self._file(h, method, repo, resolve.group(3), h.headers.get("Range"))

    def _model_info(self, h: BaseHTTPRequestHandler, method: str, repo: Repo) -> None:
        data: dict[str, Any] = {
            "_id": repo.sha[:24],
            "id": repo.repo_id,
            "modelId": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": repo.sha,
            "private": False,
            "disabled": False,
            "gated": "manual" if repo.fault in ("gated", "forbidden") else False,
            "tags": [],
            "siblings": [{"rfilename": name} for name in sorted(repo.files)],
        }
        if repo.license:
            data["cardData"] = {"license": repo.license}
        self._send(h, method, 200, json.dumps(data).encode(), {"Content-Type": "application/json"})

    def _file(self, h: BaseHTTPRequestHandler, method: str, repo: Repo, filename: str, rng: str | None) -> None:
        commit = {"X-Repo-Commit": repo.sha}
        if repo.fault == "gated":
            auth = h.headers.get("Authorization") or ""
            if not repo.token or auth != f"Bearer {repo.token}":
                return self._error(
                    h,
                    method,
                    401,
                    "GatedRepo",
                    f"Access to model {repo.repo_id} is restricted. You must have access to it "
                    "and be authenticated to access it. Please log in.",
                    commit,
                )
        if repo.fault == "forbidden":
            return self._error(
                h,
                method,
                403,
                None,
                f"Access to model {repo.repo_id} is restricted and you are not in the authorized "
                "list. Visit the repo page to ask for access.",
                commit,
            )
        content = repo.files.get(filename)
        if content is None:
            return self._error(h, method, 404, "EntryNotFound", f'{filename} does not exist on "main"', commit)
        headers = {
            **commit,
            "ETag": f'"{hashlib.sha1(content).hexdigest()}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if rng and method == "GET":
            m = re.fullmatch(r"\s*bytes=(\d+)-(\d*)\s*", rng)
            if m is None or int(m.group(1)) >= len(content):
                return self._send(h, method, 416, b"", {**headers, "Content-Range": f"bytes */{len(content)}"})
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else len(content) - 1, len(content) - 1)
            headers["Content-Range"] = f"bytes {start}-{end}/{len(content)}"
            return self._send(h, method, 206, content[start : end + 1], headers)
        return self._send(h, method, 200, content, headers)
