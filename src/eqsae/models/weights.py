"""Weights files: named tensors in safetensors (an SAE's `sae.safetensors`, SAELens' `sae_weights.safetensors`).

No pickle, so reading one runs no code, and any safetensors reader opens it. Written and read through
`eqsae.io`'s atomic write and error naming, which know nothing of safetensors' own error type: it is translated
here.
"""

from __future__ import annotations

from pathlib import Path

import torch

from eqsae.io import atomic_write, reading


def write_tensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """The tensors as one safetensors file, written atomically; copied to the CPU, contiguous and unshared first,
    as the format wants. A full disk is an UnwritableFileError naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    plain = {name: t.detach().cpu().clone(memory_format=torch.contiguous_format) for name, t in tensors.items()}

    def write(tmp: Path) -> None:
        try:
            save_file(plain, tmp, metadata)
        except SafetensorError as e:  # its I/O errors are no OSError: as one, atomic_write names them
            raise OSError(str(e)) from e

    atomic_write(path, write)


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, on the CPU; a damaged or missing file is an UnreadableFileError naming
    it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    with reading(path):
        try:
            return load_file(path)
        except SafetensorError as e:  # a bad header: as a ValueError, `reading` names the file
            raise ValueError(f"{type(e).__name__}: {e}") from e
