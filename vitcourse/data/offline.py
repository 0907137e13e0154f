"""Offline copies and the decoded cache: the file handling a student never needs to read.

``datasets.py`` says what CIFAR-10 and Fashion-MNIST are and how they are loaded; this module
does the work behind its ``local=`` path and behind the cache every path shares:

0. what a found copy is (``LocalCopy``), and its counts per class checked against the spec;
1. reading a copy's files, from a folder or a tar archive, and fingerprinting them;
2. unpickling the official CIFAR-10 batches without letting a tampered file run code;
3. decoding image files, and naming a JPEG copy's quality (its provenance);
4. the two forms a CIFAR-10 copy takes (torchvision batches, an ImageFolder tree);
5. the IDX files of Fashion-MNIST (Debian's ``dataset-fashion-mnist`` ships them);
6. the decoded cache: one safetensors file per copy, with a checksum per tensor.

Nothing here raises the loaders' user-facing error: problems raise ``CopyUnreadable`` (a damaged
cache is reported and rebuilt), and ``datasets.py`` turns them into its one clear message. This
module imports nothing from the rest of ``vitcourse.data`` (``datasets.py`` imports it); a
``spec`` parameter is a ``datasets.DatasetSpec``, a ``ds`` an ``ImageDataset``.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import io
import json
import os
import pickle
import tarfile
import time
import warnings
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

from vitcourse import REPO_ROOT
from vitcourse.atomic import file_sha256, write_json_atomic, write_safetensors_atomic

# ---------------------------------------------------------------- 0. a local copy and its checks

Splits = dict[str, tuple[torch.Tensor, torch.Tensor]]  # split -> (uint8 images, int64 labels)
SPLITS = ("train", "test")


class CopyUnreadable(Exception):
    """A local copy could not be read; the message says why, ``where`` which folder or file."""

    def __init__(self, message: str, where: Path | None = None):
        super().__init__(message)
        self.where = where


# What a local copy may look like, for the loaders' error message; and where the course keeps
# offline copies next to a checkout (see ../shared/data/README.md).
LAYOUTS = {
    "cifar10": ("a cifar-10-batches-py folder, an ImageFolder tree (train/<class>/*, "
                "test/<class>/*) or a .tar.gz of either"),
    "fashion_mnist": ("a folder with the four IDX files (train-images-idx3-ubyte.gz, "
                      "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                      "t10k-labels-idx1-ubyte.gz), e.g. Debian's dataset-fashion-mnist package"),
}
KNOWN_COPIES = {"cifar10": [REPO_ROOT.parent / "shared/data/cifar10-jpeg75.tar.gz"],
                "fashion_mnist": [Path("/usr/share/datasets/fashion-mnist")]}


@dataclass
class LocalCopy:
    """A local copy found on disk, not decoded yet: decoding is what the cache saves."""

    key: str                                   # cache fingerprint of exactly these files
    source: str                                # the resolved path run logs record
    sha256: str | None                         # of an archive; None for a folder
    where: Path                                # what an error about its contents names
    decode: Callable[[], tuple[Splits, str]]   # -> (splits, provenance); raises CopyUnreadable


def count_problems(spec, splits: Splits) -> list[str]:
    """Empty when the images have ``spec``'s shape and exactly its count per class; else one
    line per problem: how a partial or foreign copy is caught and named."""
    problems = []
    for split in SPLITS:
        images, labels = splits[split]
        per_class, total = ((spec.train_per_class, spec.train_count) if split == "train"
                            else (spec.test_per_class, spec.test_count))
        if len(images) and tuple(images.shape[1:]) != spec.image_shape:
            problems.append(f"{split} images are {tuple(images.shape[1:])}, expected {spec.image_shape}")
        if labels.numel() == 0:
            problems.append(f"{split} has no images (expected {total:,})")
        elif labels.min() < 0 or labels.max() >= len(spec.classes):
            problems.append(f"{split}: labels outside 0..{len(spec.classes) - 1}")
        elif wrong := [f"{name} {n:,} of {per_class:,}" for name, n in
                       zip(spec.classes, torch.bincount(labels, minlength=len(spec.classes)).tolist())
                       if n != per_class]:
            shown = ", ".join(wrong[:5]) + (f", ... ({len(wrong)} classes off)" if len(wrong) > 5 else "")
            kind = "short" if labels.numel() < total else "unexpected count"
            problems.append(f"{split} has {labels.numel():,} of {total:,} images ({kind}: {shown})")
    return problems


# ---------------------------------------------------------------- 1. files and fingerprints

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")
# Bump when the decoded pixels or the cache layout change, so old caches are ignored.
CACHE_VERSION = 1


def fingerprint(parts: Iterable[str]) -> str:
    """A short stable hash of ``parts`` (plus the cache version): names a cache file."""
    h = hashlib.sha256(f"vitcourse-cache-v{CACHE_VERSION}".encode())
    for part in parts:
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:16]


def stat_fingerprint_parts(folder: Path, names: list[str]) -> list[str]:
    """Name, size and modification time per file: cheap to compute, changes when a file does."""
    parts = []
    for name in names:
        st = (folder / name).stat()
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return parts


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def read_archive(path: Path, keep: Callable[[str], bool]) -> dict[str, bytes]:
    """``{member path: bytes}`` for the regular files of a tar archive that ``keep`` accepts.

    Streamed member by member, never extracted: the decoded cache is what later runs reuse, and
    extracting untrusted archives invites path tricks.
    """
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                if member.isfile() and keep(name):
                    files[name] = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
        raise CopyUnreadable(f"the archive is corrupt or truncated ({type(err).__name__}: {err})") from err
    return files


def list_tree(folder: Path, keep: Callable[[str], bool]) -> list[str]:
    """Relative POSIX paths of the files under ``folder`` that ``keep`` accepts, sorted."""
    names = []
    for dirpath, _dirs, filenames in os.walk(folder):
        rel_dir = Path(dirpath).relative_to(folder).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        names.extend(prefix + f for f in filenames if keep(prefix + f))
    return sorted(names)


def read_tree(folder: Path, names: list[str]) -> dict[str, bytes]:
    try:
        return {name: (folder / name).read_bytes() for name in names}
    except OSError as err:
        raise CopyUnreadable(f"cannot read {err.filename} ({err.strerror})") from err


# ---------------------------------------------------------------- 2. safe unpickling

# The cifar-10-batches-py format *is* pickle, so a folder the user points at has to be
# unpickled; we accept that for this one official format only, and restrict what the pickle may
# construct to plain containers and numpy arrays. (module, name) pairs a numpy array needs:
_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # how Python 3 writes bytes at protocol 2 (re-saved copies)
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")
        try:  # numpy 2 renamed numpy.core to numpy._core; prefer it to the deprecation shim
            mod = importlib.import_module(module.replace("numpy.core", "numpy._core"))
        except ImportError:
            mod = importlib.import_module(module)
        return getattr(mod, name)


def load_batch(data: bytes) -> dict:
    """One CIFAR batch file's dict. Python 2 wrote it: latin1 is the decoding numpy arrays need."""
    return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()


# ---------------------------------------------------------------- 3. decoding images

# JPEGs go through torchvision's libjpeg-turbo decoder in large batches (about 20 us per CIFAR
# image on one core, so the whole of CIFAR-10 decodes in seconds without a process pool); other
# formats, and torchvision releases without ``decode_jpeg`` (deprecated from 0.29 on), fall back
# to PIL, which gives the same pixels (same libjpeg-turbo), about 3x slower.
JPEG_MAGIC = b"\xff\xd8"
JPEG_BATCH = 4096  # files per decode_jpeg call: large enough to amortise the call, small in memory

# The IJG (libjpeg) example luminance table, natural order; encoders scale it by quality.
_IJG_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)


class BadImageError(ValueError):
    """One file could not be decoded, or has the wrong size; ``name`` says which."""

    def __init__(self, name: str, why: str):
        self.name = name
        super().__init__(f"{name}: {why}")


def decode_images(blobs: list[bytes], names: list[str], shape: tuple[int, int, int]) -> torch.Tensor:
    """Decode ``blobs`` into a uint8 ``N x C x H x W`` tensor; every image must have ``shape``."""
    channels = shape[0]
    out = torch.empty((len(blobs), *shape), dtype=torch.uint8)
    if not blobs:
        return out
    decoder = _torchvision_decoder(channels)
    jpeg_rows = [i for i, b in enumerate(blobs) if b[:2] == JPEG_MAGIC] if decoder else []
    other_rows = sorted(set(range(len(blobs))) - set(jpeg_rows))
    for start in range(0, len(jpeg_rows), JPEG_BATCH):
        rows = jpeg_rows[start:start + JPEG_BATCH]
        images = _decode_jpeg_batch([blobs[i] for i in rows], [names[i] for i in rows], decoder)
        for i, img in zip(rows, images):
            _shape_checked(img, names[i], shape)
        out[rows] = torch.stack(images)
    for i in other_rows:
        out[i] = _shape_checked(_decode_with_pil(blobs[i], names[i], channels), names[i], shape)
    return out


def _torchvision_decoder(channels: int):
    """torchvision's batched JPEG decoder for ``channels``, or None where it is unavailable.

    Imported here, not at module level: importing torchvision costs about a second, which
    ``import vitcourse.data`` should not pay when the decoded cache exists.
    """
    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except ImportError:
        return None
    mode = ImageReadMode.RGB if channels == 3 else ImageReadMode.GRAY

    def decode(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # noted above
            return decode_jpeg(data, mode=mode)
    return decode


def _decode_jpeg_batch(blobs: list[bytes], names: list[str], decode) -> list[torch.Tensor]:
    data = [torch.frombuffer(bytearray(b), dtype=torch.uint8) for b in blobs]
    try:
        return decode(data)
    except RuntimeError:
        pass
    # Some file in the batch is bad: decode one by one to name it.
    images = []
    for tensor, name in zip(data, names):
        try:
            images.append(decode(tensor))
        except RuntimeError as err:
            raise BadImageError(name, f"not a readable JPEG ({str(err).splitlines()[-1]})") from err
    return images


def _decode_with_pil(blob: bytes, name: str, channels: int) -> torch.Tensor:
    try:
        with Image.open(io.BytesIO(blob)) as im:
            im = im.convert("RGB" if channels == 3 else "L")
            data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
            return data.view(im.height, im.width, channels).permute(2, 0, 1)
    except Exception as err:  # PIL raises many types for a bad file
        raise BadImageError(name, f"not a readable image ({err})") from err


def _shape_checked(img: torch.Tensor, name: str, shape: tuple[int, int, int]) -> torch.Tensor:
    if tuple(img.shape) != shape:
        raise BadImageError(name, f"decoded to shape {tuple(img.shape)}, expected {shape}")
    return img


def jpeg_quality(blob: bytes) -> int | None:
    """The IJG quality (1-100) a JPEG was saved with, or None if its tables are non-standard."""
    try:
        with Image.open(io.BytesIO(blob)) as im:
            table = list(getattr(im, "quantization", {}).get(0, []))
    except Exception:
        return None
    for quality in range(1, 101):
        scale = 5000 // quality if quality < 50 else 200 - 2 * quality
        if table == [min(max((v * scale + 50) // 100, 1), 255) for v in _IJG_LUMA]:
            return quality
    return None


def describe_encoding(blobs: list[bytes], sample: int = 64) -> str:
    """'JPEG q75', 'JPEG, mixed quality', 'JPEG, quality unknown', 'PNG', ... for a copy.

    Looks at ``sample`` files spread over the copy; reading every table would cost as much as
    decoding.
    """
    if not blobs:
        return "empty"
    step = max(1, len(blobs) // sample)
    picked = blobs[::step][:sample]
    if any(b[:2] == JPEG_MAGIC for b in picked):
        if not all(b[:2] == JPEG_MAGIC for b in picked):
            return "mixed formats, partly JPEG"
        qualities = {jpeg_quality(b) for b in picked}
        if len(qualities) > 1:
            return "JPEG, mixed quality"
        (quality,) = qualities
        return "JPEG, quality unknown" if quality is None else f"JPEG q{quality}"
    try:
        with Image.open(io.BytesIO(picked[0])) as im:
            return im.format or "unknown format"
    except Exception:
        return "unknown format"


# ---------------------------------------------------------------- 4. CIFAR-10 copies

# A local CIFAR-10 copy is torchvision's cifar-10-batches-py (five training batches and one test
# batch of raw pixels: the original, lossless) or an ImageFolder tree train/<class>/<file>,
# test/<class>/<file> (e.g. the course's JPEG copy; lossy if JPEG), as a folder (or its parent)
# or a tar archive of either.
BATCH_FILES = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
               "test_batch")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".webp")
# Archives whose provenance is known exactly (sha256 -> provenance), see ../shared/data/README.md.
KNOWN_ARCHIVES = {
    "58c58e3af3ec7ed2054f439f35ad3c83dc1ab019f4af6037f60612ea098c8fa1": "CIFAR-10 (JPEG q75 copy)",
}


def cifar10_copy(spec, path: Path) -> LocalCopy:
    """The CIFAR-10 copy at ``path`` (a folder, its parent, or an archive)."""
    if not path.exists():
        raise CopyUnreadable("the path does not exist")
    if path.is_file():
        if not is_archive(path):
            raise CopyUnreadable("it is a file but not a tar archive (.tar.gz, .tgz, .tar)")
        sha = file_sha256(path)
        key = fingerprint([spec.name, "archive", sha])
        read = lambda: read_archive(path, lambda p: is_batch_file(p) or is_imagefolder_file(p))  # noqa: E731
    else:
        sha = None
        base, names = _cifar_folder_files(path, spec.torchvision_folder)
        key = fingerprint([spec.name, "folder", str(base.resolve()),
                           *stat_fingerprint_parts(base, names)])
        read = lambda: read_tree(base, names)  # noqa: E731

    def decode() -> tuple[Splits, str]:
        splits, provenance = _decode_cifar(read(), spec)
        return splits, KNOWN_ARCHIVES.get(sha, provenance)
    return LocalCopy(key, str(path.resolve()), sha, path, decode)


# The predicates take POSIX path strings: they run once per archive member (60,000 times).
def is_batch_file(path: str) -> bool:
    return path.rpartition("/")[2] in BATCH_FILES


def is_imagefolder_file(path: str) -> bool:
    """``.../<split>/<class>/<image>``: anything else in the tree (READMEs, ...) is ignored."""
    parts = path.rsplit("/", 3)
    return (len(parts) >= 3 and parts[-3] in SPLITS and not parts[-1].startswith(".")
            and parts[-1].lower().endswith(IMAGE_SUFFIXES))


def _cifar_folder_files(folder: Path, batches_folder: str) -> tuple[Path, list[str]]:
    """The folder that really holds the copy, and the files of it to read."""
    for base in (folder, folder / batches_folder):
        present = [n for n in BATCH_FILES if (base / n).is_file()]
        if present:
            return base, present  # read_batches names any missing batch
    subdirs = [d for d in sorted(folder.iterdir()) if d.is_dir()]
    for base in (folder, *subdirs):
        if any((base / s).is_dir() for s in SPLITS):
            names = [n for n in list_tree(base, is_imagefolder_file) if n.count("/") == 2]
            return base, names
    listing = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
    raise CopyUnreadable(f"neither {batches_folder} batch files nor train/ and test/ class "
                         f"folders were found; the folder holds: {listing}")


def _decode_cifar(files: dict[str, bytes], spec) -> tuple[Splits, str]:
    if any(is_batch_file(n) for n in files):
        return read_batches(files, spec), f"{spec.title} (local torchvision copy, original)"
    if not files:
        raise CopyUnreadable(f"no {spec.torchvision_folder} batch files and no train/<class>/<image> "
                             "or test/<class>/<image> files inside")
    splits, encoding = read_imagefolder(files, spec)
    if encoding.startswith("JPEG q"):
        return splits, f"{spec.title} ({encoding} copy)"
    if encoding.startswith("JPEG"):
        return splits, f"{spec.title} (JPEG copy, {encoding.removeprefix('JPEG, ')})"
    return splits, f"{spec.title} (ImageFolder copy, {encoding})"


def read_batches(files: dict[str, bytes], spec) -> Splits:
    """Decode the pickled batches (keyed by any path ending in the batch file names)."""
    by_name = {k.rpartition("/")[2]: v for k, v in files.items()}
    missing = [name for name in BATCH_FILES if name not in by_name]
    if missing:
        raise CopyUnreadable(f"batch files missing: {', '.join(missing)}")
    c, h, w = spec.image_shape
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {"train": [], "test": []}
    for name in BATCH_FILES:
        try:
            batch = load_batch(by_name[name])
            data = np.asarray(_field(batch, "data"), dtype=np.uint8).reshape(-1, c, h, w)
            labels = np.asarray(_field(batch, "labels"), dtype=np.int64)
        except Exception as err:  # truncated pickle, wrong sizes, refused content, ...
            raise CopyUnreadable(f"{name} is not a readable CIFAR batch ({err})") from err
        if len(data) != len(labels):
            raise CopyUnreadable(f"{name} has {len(data)} images but {len(labels)} labels")
        parts["test" if name == "test_batch" else "train"].append((data, labels))
    return {split: (torch.from_numpy(np.concatenate([d for d, _ in p])),
                    torch.from_numpy(np.concatenate([lab for _, lab in p])))
            for split, p in parts.items()}


def _field(batch: dict, key: str):
    # Python 2 wrote str keys (read back as str); files re-saved from Python 3 may use bytes.
    return batch[key] if key in batch else batch[key.encode()]


def read_imagefolder(files: dict[str, bytes], spec) -> tuple[Splits, str]:
    """Decode an ImageFolder tree; also returns the copy's encoding (e.g. ``"JPEG q75"``)."""
    index = {c: i for i, c in enumerate(spec.classes)}
    entries, unknown = [], set()
    for name in files:
        split, cls, file = name.rsplit("/", 3)[-3:]
        if cls not in index:
            unknown.add(f"{split}/{cls}")
            continue
        # Sort key: split, label, file name -- a stable order whatever order the archive had.
        entries.append((split, index[cls], file, name))
    if unknown:
        raise CopyUnreadable(f"class folders that are not {spec.title} classes: "
                             f"{', '.join(sorted(unknown))} (expected: {', '.join(spec.classes)})")
    entries.sort()
    splits: Splits = {}
    for split in SPLITS:
        rows = [e for e in entries if e[0] == split]
        names = [e[3] for e in rows]
        try:
            images = decode_images([files[n] for n in names], names, spec.image_shape)
        except BadImageError as err:
            raise CopyUnreadable(f"an image is unreadable: {err}") from err
        splits[split] = (images, torch.tensor([e[1] for e in rows], dtype=torch.int64))
    encoding = describe_encoding([files[e[3]] for e in entries])
    return splits, encoding


# ---------------------------------------------------------------- 5. Fashion-MNIST IDX files

# IDX: a 4-byte magic (two zero bytes, a type code, the number of dimensions), one big-endian
# uint32 per dimension, then the raw values; Fashion-MNIST uses unsigned bytes (type 0x08).
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def fashion_mnist_copy(spec, folder: Path) -> LocalCopy:
    """The four IDX files (``.gz`` or not) in ``folder``, its ``FashionMNIST/raw`` or ``raw``."""
    if not folder.is_dir():
        raise CopyUnreadable("the path does not exist" if not folder.exists()
                             else "it is a file, not a folder")
    base, found, missing = _find_idx_files(folder, spec.torchvision_folder)
    if missing:
        raise CopyUnreadable(f"files missing: {', '.join(m + '[.gz]' for m in missing)}", base)
    key = fingerprint([spec.name, "idx", str(base.resolve()), *stat_fingerprint_parts(base, found)])
    return LocalCopy(key, str(base.resolve()), None, base, lambda: (
        _decode_idx_files(base, found), f"{spec.title} (local IDX files, original)"))


def _find_idx_files(folder: Path, torchvision_folder: str) -> tuple[Path, list[str], list[str]]:
    """The folder holding the IDX files, the file names found there, and the stems missing."""
    best: tuple[Path, list[str], list[str]] | None = None
    for base in (folder, folder / torchvision_folder, folder / "raw"):
        found, missing = [], []
        for stem in (s for pair in IDX_FILES.values() for s in pair):
            name = next((n for n in (stem, stem + ".gz") if (base / n).is_file()), None)
            (found if name else missing).append(name or stem)
        if best is None or len(found) > len(best[1]):
            best = (base, found, missing)
    return best


def _decode_idx_files(base: Path, found: list[str]) -> Splits:
    arrays = {}
    for name in found:
        try:
            arrays[name.removesuffix(".gz")] = parse_idx((base / name).read_bytes())
        except (ValueError, OSError) as err:
            raise CopyUnreadable(f"{name} is unreadable ({err})") from err
    splits = {}
    for split, (images, labels) in IDX_FILES.items():
        x, y = arrays[images], arrays[labels]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise CopyUnreadable(f"{images} {x.shape} does not match {labels} {y.shape}")
        splits[split] = (torch.from_numpy(x.copy()).unsqueeze(1), torch.from_numpy(y.astype("int64")))
    return splits


def parse_idx(data: bytes) -> np.ndarray:
    """The array stored in an IDX file's bytes (gzip'd or not); ValueError if malformed."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"corrupt gzip data ({err})") from err
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError("not a uint8 IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape)) if shape else 0
    if len(data) != header + size:
        raise ValueError(f"header says {shape} ({size:,} bytes) but the file holds "
                         f"{len(data) - header:,} bytes of data")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


# ---------------------------------------------------------------- 6. the decoded cache

# Decode once, then reload in a fraction of a second: <root>/cache/<name>-<key>.safetensors with
# the tensors and a .json beside it with the metadata and a sha256 per tensor. Files are named
# by the source's fingerprint, so a different copy never reuses another copy's pixels. A cache
# that fails to read, or whose tensors no longer match their checksums (zeroed pixels, rewritten
# labels), is reported and rebuilt: it is derived data, never the only copy.
TENSOR_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
META_KEYS = ("name", "classes", "provenance", "source", "source_sha256")  # the other fields


def cache_paths(root: str | Path, name: str, key: str) -> tuple[Path, Path]:
    base = Path(root) / "cache" / f"{name}-{key}"
    return base.with_suffix(".safetensors"), base.with_suffix(".json")


def tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of a CPU tensor's bytes, hashed in place (about 0.2 s for CIFAR-10's 184 MB)."""
    return hashlib.sha256(t.contiguous().numpy().data).hexdigest()


def read_cache(root: str | Path, name: str, key: str, num_classes: int) -> dict[str, Any] | None:
    """The ImageDataset fields (``load_info`` too) cached for ``key``; None when there is none,
    or (with a one-line warning naming the file) when it is damaged."""
    tensor_path, meta_path = cache_paths(root, name, key)
    if not (tensor_path.is_file() and meta_path.is_file()):
        return None
    start = time.perf_counter()
    try:
        meta = json.loads(meta_path.read_text())
        tensors = load_file(str(tensor_path))
        _check_layout(meta, tensors, key)
        fields = {k: meta[k] for k in META_KEYS} | {k: tensors[k] for k in TENSOR_KEYS}
    except Exception as err:  # any damage: rebuild rather than fail
        warnings.warn(f"ignoring unreadable dataset cache {tensor_path} ({err}); decoding again")
        return None
    if "sha256" not in meta:  # written before caches had checksums: decode again, quietly
        return None
    if problem := _check_contents(meta, tensors, num_classes):
        warnings.warn(f"ignoring damaged dataset cache {tensor_path}: {problem}; decoding again")
        return None
    fields["load_info"] = {"cache_file": str(tensor_path), "from_cache": True,
                           "seconds": round(time.perf_counter() - start, 3),
                           "decode_seconds": meta.get("decode_seconds")}
    return fields


def _check_layout(meta: dict[str, Any], tensors: dict[str, torch.Tensor], key: str) -> None:
    if meta.get("version") != CACHE_VERSION or meta.get("key") != key:
        raise ValueError("cache version or key mismatch")
    for split in SPLITS:
        images, labels = tensors[f"{split}_images"], tensors[f"{split}_labels"]
        if images.dtype != torch.uint8 or labels.dtype != torch.int64:
            raise ValueError(f"{split} tensors have the wrong dtype")
        if images.ndim != 4 or len(images) != len(labels) or len(labels) != meta[f"{split}_size"]:
            raise ValueError(f"{split} tensors have the wrong shape")


def _check_contents(meta: dict[str, Any], tensors: dict[str, torch.Tensor], num_classes: int) -> str | None:
    """What is wrong with the cached values, or None: labels in 0..K-1, then the checksums."""
    for split in SPLITS:
        labels = tensors[f"{split}_labels"]
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            return (f"{split}_labels hold {int(labels.min())}..{int(labels.max())}, outside "
                    f"0..{num_classes - 1}")
    expected = meta["sha256"] if isinstance(meta["sha256"], dict) else {}
    changed = [k for k in TENSOR_KEYS if tensor_sha256(tensors[k]) != expected.get(k)]
    if changed:
        return f"{', '.join(changed)} changed since it was written (sha256 mismatch)"
    return None


def write_cache(root: str | Path, key: str, ds, decode_seconds: float) -> dict[str, Any]:
    """Write ``ds`` (an ImageDataset) as the cache for ``key``, atomically (a killed write leaves
    no half file); returns its ``load_info``."""
    tensor_path, meta_path = cache_paths(root, ds.name, key)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: getattr(ds, k) for k in TENSOR_KEYS}
    meta = {"version": CACHE_VERSION, "key": key, **{k: getattr(ds, k) for k in META_KEYS},
            "train_size": len(ds.train_labels), "test_size": len(ds.test_labels),
            "decode_seconds": round(decode_seconds, 3),
            "sha256": {k: tensor_sha256(t) for k, t in tensors.items()},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    # Tensors first, metadata last: a reader that sees the metadata also sees complete tensors.
    write_safetensors_atomic(tensor_path, tensors)
    write_json_atomic(meta_path, meta)
    return {"cache_file": str(tensor_path), "from_cache": False,
            "seconds": round(decode_seconds, 3), "decode_seconds": round(decode_seconds, 3)}
