"""`pytorch_model.bin` read with torch's restricted unpickler (`weights_only=True`): tensors, or one line that says
whether the file is damaged or holds more than tensors, whose loading would run code.

torch's wording for a refused pickle changes between releases, so the two are told apart by the file itself: a
whole torch archive (every entry matches its CRC) that the unpickler refuses, or a pickle naming a global beyond
torch's and the standard containers, holds code; anything else is damaged.
"""

from __future__ import annotations

import pickle
import pickletools
import re
import warnings
import zipfile
from pathlib import Path

import torch

from benchmark.errors import HarnessError, first_line

# Globals a file of tensors names: torch's rebuild functions and storages, and the standard containers.
TENSOR_GLOBALS = re.compile(r"^(torch[._]|collections\.OrderedDict$|_codecs\.encode$)")


def corrupt(path: Path, error: BaseException) -> HarnessError:
    # torch's restricted unpickler puts the reason between lines advising weights_only=False, never to be taken.
    lines = [line.strip() for line in str(error).splitlines() if not re.search(r"weights.only", line, re.I)]
    reason = next((line[:200] for line in lines if line), first_line(error))
    return HarnessError(
        f"{path}: cannot read the weights ({reason}); the file is damaged or was cut short: download it again"
    )


def _whole_archive(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def _foreign_global(path: Path, error: BaseException) -> str | None:
    """A global beyond tensors' that torch's message or the file's first pickle names (read by pickletools, which
    parses and never runs), or None."""
    named = re.search(r"GLOBAL ([\w.]+)", str(error))
    if named:
        return named[1]
    found, strings = [], []
    try:
        with open(path, "rb") as handle:
            for opcode, argument, _ in pickletools.genops(handle):
                if opcode.name in ("GLOBAL", "INST"):
                    found.append(argument.replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(".".join(strings[-2:]))
                elif isinstance(argument, str):
                    strings.append(argument)
    except Exception:  # damage ends the scan; what was found so far stands
        pass
    return next((name for name in found if not TENSOR_GLOBALS.match(name)), None)


def read_pickled(path: Path) -> dict[str, torch.Tensor]:
    try:
        # weights_only: unpickling anything but tensors and plain containers could run arbitrary code. Its
        # warnings about unusual pickles would only precede the one-line error below.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        named = _foreign_global(path, error)
        if named is None and not _whole_archive(path):
            raise corrupt(path, error) from None
        raise HarnessError(
            f"{path}: holds more than tensors{f' ({named})' if named else ''}; refused, since loading it would run "
            f"code. Where you trust its source, convert it to safetensors"
        ) from None
    except (RuntimeError, OSError, EOFError, ValueError, IndexError, zipfile.BadZipFile) as error:
        raise corrupt(path, error) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint that wraps the weights
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HarnessError(f"{path}: expected a mapping of tensor names to tensors")
    return state
