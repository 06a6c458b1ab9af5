"""Memory-mapped storage of an activation matrix (words × neurons) with its metadata, written atomically.

A store is a folder holding ``acts.npy`` (float32 or float16, streamed to disk block by block while it is built,
then opened with ``np.load(mmap_mode="r")`` so reading a few neurons or rows never loads the whole matrix) and
``meta.json`` (written last, with checksums of the matrix and of itself). A missing, short, resized or altered file, or metadata that does not match what the caller expects, makes
:func:`open_store` raise :class:`StoreInvalid`, so a corrupt or partial cache is rebuilt rather than read.
Used by: lib.pipeline.extraction (the activations of every notebook).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from lib.pipeline.artifacts import atomic_path

ACTS_FILE = "acts.npy"
META_FILE = "meta.json"
DTYPES = ("float32", "float16")
_CHUNK = 1 << 24
_verified: dict[Path, tuple[int, int, str]] = {}


class StoreInvalid(Exception):
    """A store folder that is missing, partial, corrupt or made for another configuration (the message says which)."""


class RowWriter:
    """Writes blocks of rows into the ``.npy`` of a store being built, with ``os.pwrite`` at their file offsets.

    Unlike writing through a memory map, nothing written stays resident in the process: memory is one batch, and
    the written pages live only in the kernel's page cache.
    """

    def __init__(self, path: Path, shape: tuple[int, int], dtype: np.dtype):
        self.shape, self.dtype = shape, dtype
        empty = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        self._header = empty.offset
        del empty
        self._file = open(path, "r+b")
        self._row_bytes = shape[1] * dtype.itemsize

    def write(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Store ``values`` [len(rows), neurons] at row indices ``rows``, one system call per contiguous run."""
        order = np.argsort(rows, kind="stable")
        rows, values = rows[order], np.ascontiguousarray(values[order], dtype=self.dtype)
        if rows.size and (rows[0] < 0 or rows[-1] >= self.shape[0]):
            raise IndexError(f"rows {rows[0]}..{rows[-1]} outside the store's {self.shape[0]} rows")
        starts = np.flatnonzero(np.r_[True, np.diff(rows) != 1])
        ends = np.r_[starts[1:], rows.size]
        for start, end in zip(starts.tolist(), ends.tolist()):
            os.pwrite(self._file.fileno(), values[start:end].data,
                      self._header + int(rows[start]) * self._row_bytes)

    def close(self) -> None:
        """Flush the file to disk and close it."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


@contextlib.contextmanager
def write_store(folder: str | os.PathLike, shape: tuple[int, int], dtype: str,
                meta: dict[str, Any]) -> Iterator[RowWriter]:
    """Yield a :class:`RowWriter` for a rows × neurons matrix; on success publish it with ``meta`` atomically.

    The caller streams rows in any order; the metadata, with checksums, is written after the matrix is on disk,
    and the folder is renamed into place last, so an interrupted build leaves no store behind.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r} is not supported; use one of {', '.join(DTYPES)}")
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        writer = RowWriter(tmp / ACTS_FILE, tuple(shape), np.dtype(dtype))
        try:
            yield writer
        finally:
            writer.close()
        body = {**meta, "shape": list(shape), "dtype": dtype, "acts_crc32": file_digest(tmp / ACTS_FILE)}
        (tmp / META_FILE).write_text(json.dumps({**body, "meta_blake2b": _meta_digest(body)}), encoding="utf-8")


def open_store(folder: str | os.PathLike, expected: dict[str, Any], verify: bool = True) -> tuple[np.memmap, dict]:
    """The read-only matrix and metadata of a complete store whose metadata agrees with ``expected``.

    Checks the metadata's own checksum, every key of ``expected``, the ``.npy`` header (shape, dtype) and file size,
    and, when ``verify`` is true, the matrix checksum (once per process for an unchanged file).
    Raises :class:`StoreInvalid` naming the first problem found.
    """
    folder = Path(folder)
    meta = _read_meta(folder)
    for key, value in expected.items():
        if _canonical(meta.get(key)) != _canonical(value):
            raise StoreInvalid(f"{folder}: metadata {key!r} is {meta.get(key)!r}, expected {value!r}")
    path = folder / ACTS_FILE
    if not path.is_file():
        raise StoreInvalid(f"{path} is missing")
    shape, dtype = tuple(meta["shape"]), np.dtype(meta["dtype"])
    try:
        acts = np.load(path, mmap_mode="r")
    except (ValueError, OSError) as error:
        raise StoreInvalid(f"{path} is not a readable .npy file: {error}") from None
    if acts.shape != shape or acts.dtype != dtype:
        raise StoreInvalid(f"{path} holds {acts.shape} {acts.dtype}, metadata says {shape} {dtype}")
    expected_size = acts.offset + int(np.prod(shape)) * dtype.itemsize
    stat = path.stat()
    if stat.st_size != expected_size:
        raise StoreInvalid(f"{path} has {stat.st_size} bytes, expected {expected_size}")
    if verify:
        _verify_digest(path, stat, meta["acts_crc32"])
    return acts, meta


def open_or_build(folder: str | os.PathLike, expected: dict[str, Any], verify: bool, build: Callable[[], None],
                  wait: bool = True) -> tuple[np.memmap, dict]:
    """:func:`open_store`, or ``build()`` the store first when it is invalid. The build holds the folder's lock
    (``lib.pipeline.cache.building``): a second process asking for the same store meanwhile waits and opens it, or,
    with ``wait`` false, gets ``lib.pipeline.cache.Busy`` at once."""
    from lib.pipeline.cache import building

    try:
        return open_store(folder, expected, verify)
    except StoreInvalid:
        with building(Path(folder), wait):
            try:
                return open_store(folder, expected, verify)
            except StoreInvalid:
                build()
        return open_store(folder, expected, verify=False)


def file_digest(path: str | os.PathLike) -> str:
    """CRC-32 of a file as 8 hex digits, read in 16 MiB chunks (bounded memory; about 1 GB/s, enough to catch a
    damaged or altered file, which is all a cache check needs)."""
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


def _verify_digest(path: Path, stat: os.stat_result, checksum: str) -> None:
    key = path.resolve()
    if _verified.get(key) == (stat.st_size, stat.st_mtime_ns, checksum):
        return
    if file_digest(path) != checksum:
        raise StoreInvalid(f"{path} does not match its checksum (corrupt or altered)")
    _verified[key] = (stat.st_size, stat.st_mtime_ns, checksum)


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META_FILE
    if not path.is_file():
        raise StoreInvalid(f"{path} is missing (store absent or incomplete)")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        body = {k: v for k, v in meta.items() if k != "meta_blake2b"}
        intact = meta["meta_blake2b"] == _meta_digest(body)
        shape, dtype = meta["shape"], meta["dtype"]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise StoreInvalid(f"{path} is unreadable or incomplete: {error!r}") from None
    if not intact:
        raise StoreInvalid(f"{path} does not match its checksum (corrupt or altered)")
    if dtype not in DTYPES or len(shape) != 2:
        raise StoreInvalid(f"{path} describes an unsupported matrix: shape {shape}, dtype {dtype}")
    return meta


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _meta_digest(body: dict[str, Any]) -> str:
    return hashlib.blake2b(_canonical(body).encode("utf-8"), digest_size=20).hexdigest()
