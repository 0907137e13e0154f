"""Tests for vitcourse.data loading, caching, errors and subsets.

Most tests build tiny synthetic copies (ImageFolder trees, torchvision batch pickles, IDX files)
and shrink the dataset spec so a "complete" copy has a few images per class. The real offline
CIFAR-10 archive and Debian's Fashion-MNIST files are loaded in full when present; their
decoded caches go to the repository's data/cache/ so later runs take well under a second.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import pickle
import tarfile
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import REPO, SHARED_CIFAR
from PIL import Image
from safetensors.torch import load_file, save_file

import vitcourse.data.datasets as datasets_module
from vitcourse.data import (CIFAR10, FASHION_MNIST, DatasetNotFoundError, ImageDataset,
                            UnknownDatasetError, load_cifar10, load_dataset, load_fashion_mnist,
                            long_tailed, long_tailed_counts, offline, per_class_fraction)

REPO_DATA = REPO / "data"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
CLASSES = list(CIFAR10.classes)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    # A developer's own VITCOURSE_* settings must not change what these tests see.
    monkeypatch.delenv("VITCOURSE_CIFAR10", raising=False)
    monkeypatch.delenv("VITCOURSE_FASHION_MNIST", raising=False)


@pytest.fixture
def tiny_cifar(monkeypatch):
    """CIFAR-10's classes with 3 training and 2 test images per class."""
    spec = dataclasses.replace(CIFAR10, train_per_class=3, test_per_class=2)
    monkeypatch.setitem(datasets_module.SPECS, "cifar10", spec)
    return spec


def _image(label: int, index: int) -> np.ndarray:
    """A smooth 32x32 picture that survives JPEG almost unchanged and differs per image."""
    yy, xx = np.mgrid[0:32, 0:32]
    img = np.stack([(yy * 4 + label * 20) % 256, (xx * 4 + index * 30) % 256,
                    np.full_like(yy, 40 + 20 * label)], -1)
    return img.astype(np.uint8)


def _write_tree(root: Path, spec, fmt: str = "JPEG", quality: int = 90, skip: tuple = ()) -> Path:
    for split, per_class in (("train", spec.train_per_class), ("test", spec.test_per_class)):
        for label, cls in enumerate(spec.classes):
            folder = root / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                if (split, cls, i) in skip:
                    continue
                ext = "jpg" if fmt == "JPEG" else fmt.lower()
                kwargs = {"quality": quality} if fmt == "JPEG" else {}
                Image.fromarray(_image(label, i)).save(folder / f"{i:04d}.{ext}", fmt, **kwargs)
    return root


def _tar(src: Path, dest: Path, arcname: str) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        tar.add(src, arcname=arcname)
    return dest


def _write_batches(folder: Path, per_class_train: int, per_class_test: int, seed: int = 0):
    """A torchvision-format cifar-10-batches-py folder; returns the expected arrays."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    train_labels = np.repeat(np.arange(10), per_class_train)
    rng.shuffle(train_labels)
    train = rng.integers(0, 256, (len(train_labels), 3072), dtype=np.uint8)
    for b, chunk in enumerate(np.array_split(np.arange(len(train_labels)), 5)):
        # Protocol 2 with str keys, like the official Python 2 files.
        batch = {"data": train[chunk], "labels": train_labels[chunk].tolist()}
        (folder / f"data_batch_{b + 1}").write_bytes(pickle.dumps(batch, protocol=2))
    test_labels = np.repeat(np.arange(10), per_class_test)
    test = rng.integers(0, 256, (len(test_labels), 3072), dtype=np.uint8)
    test_batch = {"data": test, "labels": test_labels.tolist()}
    (folder / "test_batch").write_bytes(pickle.dumps(test_batch, protocol=2))
    return train.reshape(-1, 3, 32, 32), train_labels, test.reshape(-1, 3, 32, 32), test_labels


def _assert_fix_message(err: Exception, *names: str):
    msg = str(err)
    for name in names:
        assert name in msg, f"{name!r} missing from:\n{msg}"
    # The two fixes: point at a local copy (the shell step first), or go online; "unset" only
    # when the variable is set.
    assert "`export VITCOURSE_" in msg and "local=" in msg and "go online" in msg, msg


def test_the_fix_names_the_shell_step_and_unset_only_when_the_variable_is_set(monkeypatch, tmp_path):
    monkeypatch.delenv("VITCOURSE_CIFAR10", raising=False)

    def message():
        return str(datasets_module.dataset_error(CIFAR10, "not found", "a copy", tmp_path, tmp_path))
    assert "`export VITCOURSE_CIFAR10=/path/to/copy`" in message() and "unset" not in message()
    monkeypatch.setenv("VITCOURSE_CIFAR10", str(tmp_path / "nope"))
    assert "unset VITCOURSE_CIFAR10 first" in message()


# ---------------------------------------------------------------- the real offline copies

@pytest.mark.skipif(not SHARED_CIFAR.exists(), reason="offline CIFAR-10 archive not present")
def test_real_cifar10_archive_loads_fully_and_caches(monkeypatch):
    ds = load_cifar10(root=REPO_DATA, local=SHARED_CIFAR)
    assert ds.train_images.shape == (50_000, 3, 32, 32) and ds.train_images.dtype == torch.uint8
    assert ds.test_images.shape == (10_000, 3, 32, 32)
    assert ds.class_counts("train") == [5000] * 10 and ds.class_counts("test") == [1000] * 10
    assert ds.provenance == "CIFAR-10 (JPEG q75 copy)"
    assert ds.classes == CLASSES and ds.source_sha256.startswith("58c58e3a")
    assert Path(ds.load_info["cache_file"]).is_file()
    # Pixel statistics close to the original CIFAR-10's (JPEG shifts them slightly).
    mean = ds.train_images[::10].float().div(255).mean((0, 2, 3))
    assert torch.allclose(mean, torch.tensor(CIFAR10.mean), atol=0.01)
    # Through the environment variable and load_dataset: the cache answers.
    monkeypatch.setenv("VITCOURSE_CIFAR10", str(SHARED_CIFAR))
    again = load_dataset("cifar10", root=REPO_DATA)
    assert again.load_info["from_cache"] and again.provenance == ds.provenance
    assert torch.equal(again.test_images, ds.test_images)
    json.dumps(ds.describe())  # run logs need it JSON-safe


# Skipped only outside CI: the README's test command installs the package, so CI always runs it.
@pytest.mark.skipif(not DEBIAN_FASHION.exists() and not os.environ.get("CI"),
                    reason="dataset-fashion-mnist not installed")
def test_real_fashion_mnist_from_debian_files():
    ds = load_dataset("fashion_mnist", root=REPO_DATA, local=DEBIAN_FASHION)
    assert ds.train_images.shape == (60_000, 1, 28, 28) and ds.test_images.shape == (10_000, 1, 28, 28)
    assert ds.class_counts("train") == [6000] * 10
    assert ds.provenance == "Fashion-MNIST (local IDX files, original)"
    assert ds.classes[0] == "T-shirt/top"


def test_fashion_mnist_folder_is_used_only_when_named(tmp_path, monkeypatch):
    # Offline, with no copy named: an error (that may mention the Debian folder), no fallback.
    with pytest.raises(DatasetNotFoundError) as err:
        load_fashion_mnist(root=tmp_path, download=False)
    _assert_fix_message(err.value, "VITCOURSE_FASHION_MNIST", str(tmp_path))


# ---------------------------------------------------------------- synthetic CIFAR-10 copies

def test_imagefolder_jpeg_tree_archive_and_env(tmp_path, tiny_cifar, monkeypatch):
    tree = _write_tree(tmp_path / "tree", tiny_cifar, quality=90)
    ds = load_cifar10(root=tmp_path / "data", local=tree)
    assert ds.provenance == "CIFAR-10 (JPEG q90 copy)"
    assert ds.class_counts("train") == [3] * 10 and ds.class_counts("test") == [2] * 10
    assert ds.train_labels.tolist() == [c for c in range(10) for _ in range(3)]
    expected = torch.from_numpy(_image(4, 1)).permute(2, 0, 1).int()
    assert (ds.train_images[4 * 3 + 1].int() - expected).abs().float().mean() < 3  # lossy but close
    # The same tree packed with a top-level folder decodes to the same tensors.
    archive = _tar(tree, tmp_path / "copy.tar.gz", "cifar10")
    from_tar = load_cifar10(root=tmp_path / "data", local=archive)
    assert torch.equal(from_tar.train_images, ds.train_images)
    assert from_tar.source_sha256 is not None and from_tar.provenance == ds.provenance
    # The environment variable works like local=, and the second load comes from the cache.
    monkeypatch.setenv("VITCOURSE_CIFAR10", str(archive))
    cached = load_cifar10(root=tmp_path / "data")
    assert cached.load_info["from_cache"] and torch.equal(cached.test_images, ds.test_images)


def test_imagefolder_png_is_lossless_and_parent_folder_found(tmp_path, tiny_cifar):
    _write_tree(tmp_path / "outer" / "cifar", tiny_cifar, fmt="PNG")
    ds = load_cifar10(root=tmp_path / "data", local=tmp_path / "outer")
    assert ds.provenance == "CIFAR-10 (ImageFolder copy, PNG)"
    assert torch.equal(ds.test_images[7 * 2 + 1], torch.from_numpy(_image(7, 1)).permute(2, 0, 1))


def test_torchvision_batches_folder_parent_and_archive(tmp_path, tiny_cifar):
    x_train, y_train, x_test, y_test = _write_batches(tmp_path / "tv" / "cifar-10-batches-py", 3, 2)
    for local in (tmp_path / "tv", tmp_path / "tv" / "cifar-10-batches-py",
                  _tar(tmp_path / "tv", tmp_path / "tv.tar.gz", ".")):
        ds = load_cifar10(root=tmp_path / "data", local=local)
        assert ds.provenance == "CIFAR-10 (local torchvision copy, original)"
        assert torch.equal(ds.train_images, torch.from_numpy(x_train))
        assert ds.train_labels.tolist() == y_train.tolist()
        assert torch.equal(ds.test_images, torch.from_numpy(x_test))


def test_pickle_that_would_run_code_is_refused(tmp_path, tiny_cifar):
    folder = tmp_path / "cifar-10-batches-py"
    _write_batches(folder, 3, 2)

    class Exploit:
        def __reduce__(self):
            return (print, ("this must never run",))

    (folder / "test_batch").write_bytes(pickle.dumps({"data": Exploit(), "labels": []}, protocol=2))
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=folder)
    assert "refusing to load" in str(err.value) and ".print" in str(err.value)
    assert "test_batch" in str(err.value)


# ---------------------------------------------------------------- errors

def test_missing_path_names_path_and_both_fixes(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.tar.gz"
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path, local=missing)
    _assert_fix_message(err.value, str(missing), "does not exist")
    assert isinstance(err.value, FileNotFoundError)
    monkeypatch.setenv("VITCOURSE_CIFAR10", str(missing))
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path)
    _assert_fix_message(err.value, "$VITCOURSE_CIFAR10", str(missing))


def test_partial_copy_names_what_is_short(tmp_path, tiny_cifar):
    tree = _write_tree(tmp_path / "tree", tiny_cifar, skip=(("train", "cat", 0), ("train", "cat", 1)))
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=tree)
    _assert_fix_message(err.value, "train has 28 of 30 images", "cat 1 of 3", str(tree))
    tv = tmp_path / "tv"
    _write_batches(tv, 3, 2)
    (tv / "data_batch_4").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=tv)
    _assert_fix_message(err.value, "data_batch_4")


def test_missing_split_and_foreign_class_folder(tmp_path, tiny_cifar):
    tree = _write_tree(tmp_path / "tree", tiny_cifar)
    for f in (tree / "test").rglob("*.jpg"):
        f.unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=tree)
    _assert_fix_message(err.value, "test has no images")
    (tree / "train" / "unicorn").mkdir()
    Image.fromarray(_image(0, 0)).save(tree / "train" / "unicorn" / "0.jpg")
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=tree)
    _assert_fix_message(err.value, "train/unicorn")


def test_corrupt_archive_and_corrupt_image(tmp_path, tiny_cifar):
    archive = _tar(_write_tree(tmp_path / "tree", tiny_cifar), tmp_path / "copy.tar.gz", "c")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=truncated)
    _assert_fix_message(err.value, "corrupt or truncated", str(truncated))
    bad = tmp_path / "tree" / "train" / "dog" / "0001.jpg"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=tmp_path / "tree")
    _assert_fix_message(err.value, "train/dog/0001.jpg")
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")
    with pytest.raises(DatasetNotFoundError) as err:
        load_cifar10(root=tmp_path / "data", local=not_archive)
    _assert_fix_message(err.value, "not a tar archive")


def test_offline_without_a_copy_never_downloads_silently(tmp_path, monkeypatch):
    import torchvision.datasets

    calls = []

    def offline(*args, **kwargs):
        calls.append(kwargs)
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(DatasetNotFoundError) as err:  # download=False: torchvision not even asked
        load_cifar10(root=tmp_path, download=False)
    _assert_fix_message(err.value, "download=False", str(tmp_path / "cifar-10-batches-py"))
    assert not calls
    with pytest.raises(DatasetNotFoundError) as err:  # auto: tries, fails, one clear message
        load_cifar10(root=tmp_path)
    _assert_fix_message(err.value, "torchvision could not provide it", "URLError")
    assert calls and calls[0]["download"] is True
    calls.clear()
    with pytest.raises(DatasetNotFoundError):  # a named local copy never falls back to download
        load_cifar10(root=tmp_path, local=tmp_path / "missing")
    assert not calls
    with pytest.raises(ValueError, match="download=True"):
        load_cifar10(root=tmp_path, local=tmp_path, download=True)


def test_unknown_dataset_lists_known_names():
    with pytest.raises(UnknownDatasetError) as err:
        load_dataset("imagenet21k")
    assert "imagenet21k" in str(err.value) and "cifar10" in str(err.value)
    assert "fashion_mnist" in str(err.value)


def test_damaged_cache_is_rebuilt(tmp_path, tiny_cifar):
    tree = _write_tree(tmp_path / "tree", tiny_cifar, fmt="PNG")
    first = load_cifar10(root=tmp_path / "data", local=tree)
    Path(first.load_info["cache_file"]).write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable dataset cache"):
        again = load_cifar10(root=tmp_path / "data", local=tree)
    assert not again.load_info["from_cache"] and torch.equal(again.train_images, first.train_images)


def _tamper_cache(ds, key: str, change, fix_checksum: bool = False) -> Path:
    """Rewrite one tensor of ``ds``'s cache file in place (same size, still a valid file)."""
    path = Path(ds.load_info["cache_file"])
    tensors = load_file(str(path))
    tensors[key] = change(tensors[key].clone())
    save_file(tensors, str(path))
    if fix_checksum:  # a consistent forgery: only the label range check can catch it
        meta_path = path.with_suffix(".json")
        meta = json.loads(meta_path.read_text())
        meta["sha256"][key] = offline.tensor_sha256(tensors[key])
        meta_path.write_text(json.dumps(meta))
    return path


def test_cache_with_zeroed_pixels_or_rewritten_labels_is_detected_and_rebuilt(tmp_path, tiny_cifar):
    tree = _write_tree(tmp_path / "tree", tiny_cifar, fmt="PNG")
    first = load_cifar10(root=tmp_path / "data", local=tree)
    assert not first.load_info["from_cache"]
    cases = [("train_images", lambda x: x.index_fill_(0, torch.arange(5), 0)),  # 5 black images
             ("test_labels", lambda y: y.roll(1)),                              # labels shuffled
             ("train_labels", lambda y: y.fill_(3))]                            # all one class
    for key, change in cases:
        path = _tamper_cache(first, key, change)
        with pytest.warns(UserWarning, match=f"damaged dataset cache {path}: {key} changed"):
            again = load_cifar10(root=tmp_path / "data", local=tree)
        assert not again.load_info["from_cache"], key
        for k in offline.TENSOR_KEYS:
            assert torch.equal(getattr(again, k), getattr(first, k)), (key, k)
        assert again.describe() == first.describe()
        assert load_cifar10(root=tmp_path / "data", local=tree).load_info["from_cache"]  # sound again


def test_cache_labels_out_of_range_are_named_and_rebuilt(tmp_path, tiny_cifar):
    tree = _write_tree(tmp_path / "tree", tiny_cifar, fmt="PNG")
    first = load_cifar10(root=tmp_path / "data", local=tree)
    path = _tamper_cache(first, "train_labels", lambda y: y.index_fill_(0, torch.tensor([0]), 12345),
                         fix_checksum=True)
    with pytest.warns(UserWarning, match=f"damaged dataset cache {path}: train_labels hold 0..12345, "
                                         "outside 0..9; decoding again"):
        again = load_cifar10(root=tmp_path / "data", local=tree)
    assert not again.load_info["from_cache"] and torch.equal(again.train_labels, first.train_labels)
    # A dataset built by hand with such labels fails when built, not mid-epoch in the loss.
    with pytest.raises(ValueError, match=r"train labels of cifar10 \(memory\) hold 0..12345, outside "
                                         r"0..9.*load a clean copy"):
        ImageDataset(name="cifar10", classes=CLASSES, train_images=first.train_images,
                     train_labels=first.train_labels.clone().index_fill_(0, torch.tensor([0]), 12345),
                     test_images=first.test_images, test_labels=first.test_labels,
                     provenance="tampered", source="memory")


def test_cache_without_checksums_is_rebuilt_once_quietly(tmp_path, tiny_cifar):
    # Caches written before checksums existed are not damaged: no warning (a notebook's stored
    # outputs must not change), one decode to add the checksums.
    tree = _write_tree(tmp_path / "tree", tiny_cifar, fmt="PNG")
    first = load_cifar10(root=tmp_path / "data", local=tree)
    meta_path = Path(first.load_info["cache_file"]).with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    del meta["sha256"]  # as written before the cache had checksums
    meta_path.write_text(json.dumps(meta))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not load_cifar10(root=tmp_path / "data", local=tree).load_info["from_cache"]
    assert load_cifar10(root=tmp_path / "data", local=tree).load_info["from_cache"]


# ---------------------------------------------------------------- Fashion-MNIST files

def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _write_idx_folder(folder: Path, n_train: int, n_test: int) -> None:
    folder.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(_idx(np.full((n, 28, 28), 7)))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(_idx(labels))


def test_fashion_mnist_idx_folder_env_partial_and_missing(tmp_path, monkeypatch):
    spec = dataclasses.replace(FASHION_MNIST, train_per_class=2, test_per_class=1)
    monkeypatch.setitem(datasets_module.SPECS, "fashion_mnist", spec)
    good = tmp_path / "good" / "FashionMNIST" / "raw"  # a torchvision root works too
    _write_idx_folder(good, 20, 10)
    monkeypatch.setenv("VITCOURSE_FASHION_MNIST", str(tmp_path / "good"))
    ds = load_fashion_mnist(root=tmp_path / "data")
    assert ds.train_images.shape == (20, 1, 28, 28) and ds.test_labels.tolist() == list(range(10))
    monkeypatch.delenv("VITCOURSE_FASHION_MNIST")
    _write_idx_folder(tmp_path / "partial", 15, 10)
    with pytest.raises(DatasetNotFoundError) as err:
        load_fashion_mnist(root=tmp_path / "data", local=tmp_path / "partial")
    _assert_fix_message(err.value, "train has 15 of 20 images")
    (tmp_path / "partial" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        load_fashion_mnist(root=tmp_path / "data", local=tmp_path / "partial")
    _assert_fix_message(err.value, "t10k-labels-idx1-ubyte")
    # A label outside the classes is named with the folder, before any training sees it.
    bad = tmp_path / "bad"
    _write_idx_folder(bad, 20, 10)
    (bad / "train-labels-idx1-ubyte.gz").write_bytes(_idx(np.r_[12, np.arange(1, 20) % 10]))
    with pytest.raises(DatasetNotFoundError) as err:
        load_fashion_mnist(root=tmp_path / "data", local=bad)
    _assert_fix_message(err.value, "train: labels outside 0..9", str(bad))


# ---------------------------------------------------------------- subsets

CIFAR_LIKE = torch.arange(50_000) % 10


@pytest.mark.parametrize("fraction,per_class",
                         [(0.05, 250), (0.1, 500), (0.25, 1250), (0.5, 2500), (1.0, 5000)])
def test_per_class_fraction_counts_and_balance(fraction, per_class):
    idx = per_class_fraction(CIFAR_LIKE, fraction, seed=3)
    assert torch.bincount(CIFAR_LIKE[idx], minlength=10).tolist() == [per_class] * 10
    assert len(torch.unique(idx)) == len(idx)


def test_per_class_fraction_nested_and_deterministic():
    small, large = per_class_fraction(CIFAR_LIKE, 0.1, seed=7), per_class_fraction(CIFAR_LIKE, 0.25, seed=7)
    assert set(small.tolist()) <= set(large.tolist())
    assert torch.equal(small, per_class_fraction(CIFAR_LIKE, 0.1, seed=7))
    assert not torch.equal(small, per_class_fraction(CIFAR_LIKE, 0.1, seed=8))
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match=f"fraction must be in \\(0, 1\\], got {bad}"):
            per_class_fraction(CIFAR_LIKE, bad, seed=0)


def test_long_tailed_counts_nesting_and_errors():
    assert long_tailed_counts(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    idx = long_tailed(CIFAR_LIKE, 100, seed=0)
    counts = torch.bincount(CIFAR_LIKE[idx], minlength=10).tolist()
    assert counts == long_tailed_counts(5000, 10, 100) and len(idx) == 12_406
    assert set(idx.tolist()) <= set(long_tailed(CIFAR_LIKE, 10, seed=0).tolist())
    assert torch.equal(idx, long_tailed(CIFAR_LIKE, 100, seed=0))
    assert torch.bincount(CIFAR_LIKE[long_tailed(CIFAR_LIKE, 1, seed=0)]).tolist() == [5000] * 10
    with pytest.raises(ValueError, match="imbalance_ratio must be >= 1.*0.5"):
        long_tailed(CIFAR_LIKE, 0.5, seed=0)


def test_train_subset_keeps_test_set_and_records_itself(tmp_path, tiny_cifar):
    ds = load_cifar10(root=tmp_path / "data", local=_write_tree(tmp_path / "t", tiny_cifar, fmt="PNG"))
    keep = per_class_fraction(ds.train_labels, 1 / 3, seed=0)
    sub = ds.with_train_subset(keep, "per_class_fraction 1/3, seed 0")
    assert sub.class_counts("train") == [1] * 10 and torch.equal(sub.test_images, ds.test_images)
    described = sub.describe()
    assert described["train_subset"] == "per_class_fraction 1/3, seed 0" and described["train_size"] == 10
