"""Turn encoded image files (bytes) into one uint8 tensor, and tell what kind of copy they are.

JPEGs go through torchvision's libjpeg-turbo decoder in large batches (about 20 us per CIFAR
image on one core, so the whole of CIFAR-10 decodes in seconds without a process pool); other
formats, and torchvision releases without ``decode_jpeg`` (it is deprecated from 0.29 on), fall
back to PIL, which gives the same pixels (same libjpeg-turbo), about 3x slower.
``jpeg_quality`` reads the quantisation table to name a JPEG copy's quality, which is what its
provenance string reports.
"""

from __future__ import annotations

import io
import warnings

import torch
from PIL import Image


JPEG_MAGIC = b"\xff\xd8"
BATCH = 4096  # files per decode_jpeg call: large enough to amortise the call, small in memory

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
    for start in range(0, len(jpeg_rows), BATCH):
        rows = jpeg_rows[start:start + BATCH]
        images = _decode_jpeg_batch([blobs[i] for i in rows], [names[i] for i in rows], decoder)
        for i, img in zip(rows, images):
            _checked(img, names[i], shape)
        out[rows] = torch.stack(images)
    for i in other_rows:
        out[i] = _checked(_decode_with_pil(blobs[i], names[i], channels), names[i], shape)
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
            warnings.simplefilter("ignore", DeprecationWarning)  # noted in the module docstring
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


def _checked(img: torch.Tensor, name: str, shape: tuple[int, int, int]) -> torch.Tensor:
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
