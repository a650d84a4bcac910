"""Segments: plain /dev/shm files mapped with mmap, their names, and the removal of a dead host's leftovers.

Not multiprocessing.shared_memory: in Python 3.11 its resource tracker unlinks a segment when any process that
attached to it exits. A name is `{root}-{host pid}-{counter}`; the root defaults to "nodehost" and the
NODEHOST_SHM_PREFIX environment variable overrides it. Files are created 0600, O_EXCL.

A host may keep its segments in a private folder (`private_dir(root)`: `/dev/shm/{root}-{host pid}.{n}.d`, 0700)
instead of /dev/shm itself, so that a sandboxed child can be shown that folder alone; a child finds it in the
NODEHOST_SHM_DIR environment variable (default /dev/shm).

A mapping is never closed while a view may use it: views are built on a numpy array over a memoryview of the
mmap, which keeps a buffer export alive, so `mm.close()` raises BufferError instead of unmapping under a live
view (which would SIGSEGV). `Mapping.close` tries, and on BufferError just drops the reference: the kernel
mapping then goes away with the last view.
"""

from __future__ import annotations

import bisect
import ctypes
import itertools
import mmap
import os
import re
from typing import Any

from ._types import ShmError

SHM_DIR = "/dev/shm"
ENV_PREFIX = "NODEHOST_SHM_PREFIX"
ENV_DIR = "NODEHOST_SHM_DIR"
DEFAULT_ROOT = "nodehost"
MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)  # Linux >= 5.14; the constant is 3.13+
_ROOT_RE = re.compile(r"[A-Za-z0-9_.]{1,64}")
_NAME_RE = re.compile(r"([A-Za-z0-9_.]{1,64})-(\d{1,10})-(\d{1,20})")
_DIR_RE = re.compile(r"([A-Za-z0-9_.]{1,64})-(\d{1,10})\.(\d{1,20})\.d")
_counter = itertools.count()  # process-wide, so two ShmHosts in one process never collide


def shm_root(root: str | None = None) -> str:
    """The name root: `root`, else $NODEHOST_SHM_PREFIX, else "nodehost" (letters, digits, '_' and '.')."""
    root = root or os.environ.get(ENV_PREFIX) or DEFAULT_ROOT
    if not _ROOT_RE.fullmatch(root):
        raise ValueError(f"bad shared-memory name root {root!r}")
    return root


def new_name(root: str) -> str:
    return f"{root}-{os.getpid()}-{next(_counter)}"


def private_dir(root: str) -> str:
    """A new segment folder for one ShmHost, created 0700: ``{root}-{host pid}.{counter}.d``."""
    path = os.path.join(SHM_DIR, f"{root}-{os.getpid()}.{next(_counter)}.d")
    os.mkdir(path, mode=0o700)
    return path


def client_dir() -> str:
    """Where a child opens segments: $NODEHOST_SHM_DIR (the host's private folder), else /dev/shm."""
    return os.environ.get(ENV_DIR) or SHM_DIR


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name):
        raise ShmError(f"bad segment name {name!r}")
    return name


class Mapping:
    """One mmap of a segment file, with its base address."""

    __slots__ = ("name", "size", "mm", "base")

    def __init__(self, name: str, mm: mmap.mmap) -> None:
        self.name, self.mm, self.size = name, mm, len(mm)
        probe = ctypes.c_char.from_buffer(mm)
        self.base = ctypes.addressof(probe)
        del probe  # releases its buffer export

    def close(self) -> None:
        try:
            self.mm.close()
        except BufferError:
            pass  # a view still holds an export: the mmap goes away with it


def create_segment(name: str, size: int, prefault: bool = True, directory: str = SHM_DIR) -> Mapping:
    """A new 0600 segment of `size` bytes, its pages allocated (no SIGBUS later on a full /dev/shm) and,
    with prefault, mapped in this process (so the first write into it costs no page fault)."""
    path = os.path.join(directory, check_name(name))
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as e:
            raise ShmError(f"cannot reserve {size} bytes in {SHM_DIR}: {e.strerror}") from e
        mm = mmap.mmap(fd, size)
    except BaseException:
        os.close(fd)
        unlink_segment(name, directory)
        raise
    os.close(fd)
    if prefault:
        _populate(mm)
    return Mapping(name, mm)


def _populate(mm: mmap.mmap) -> None:
    try:
        mm.madvise(MADV_POPULATE_WRITE)
    except (OSError, ValueError):  # older kernel: touch one byte per page
        view = memoryview(mm)
        for i in range(0, len(mm), mmap.PAGESIZE):
            view[i] = 0
        view.release()


def open_segment(name: str) -> Mapping:
    """Map an existing segment (child side: children never create segments)."""
    path = os.path.join(client_dir(), check_name(name))
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError as e:
        raise ShmError(f"segment {name} is gone") from e
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise ShmError(f"segment {name} is empty")
        return Mapping(name, mmap.mmap(fd, size))
    finally:
        os.close(fd)


def unlink_segment(name: str, directory: str = SHM_DIR) -> None:
    try:
        os.unlink(os.path.join(directory, name))
    except FileNotFoundError:
        pass


def pid_alive(pid: int) -> bool:
    """True for a running process (a zombie counts as dead; a process of another user as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


def cleanup_stale(root: str | None = None) -> list[str]:
    """Remove the segments under `root` whose host process is dead; return their names (sorted).

    Never touches this process's segments nor a live process's. The host calls it at start-up."""
    root, me, removed = shm_root(root), os.getpid(), []
    for entry in os.scandir(SHM_DIR):
        d = _DIR_RE.fullmatch(entry.name)
        if d is not None and d[1] == root and int(d[2]) != me and not pid_alive(int(d[2])):
            removed += [f"{entry.name}/{n}" for n in _remove_dir(entry.path)]
            continue
        m = _NAME_RE.fullmatch(entry.name)
        if m is None or m[1] != root or int(m[2]) == me or pid_alive(int(m[2])):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(entry.name)
    return sorted(removed)


def _remove_dir(path: str) -> list[str]:
    names = []
    for entry in os.scandir(path):
        os.unlink(entry.path)
        names.append(entry.name)
    os.rmdir(path)
    return names


def remove_private_dir(path: str) -> None:
    """A host's private folder, once its segments are unlinked (left alone if anything is still in it)."""
    try:
        os.rmdir(path)
    except OSError:
        pass


class AddressIndex:
    """Live mappings by address: which one (if any) holds a byte range."""

    def __init__(self) -> None:
        self._bases: list[int] = []
        self._items: list[tuple[int, Any]] = []  # (size, item), parallel to _bases

    def add(self, base: int, size: int, item: Any) -> None:
        i = bisect.bisect_left(self._bases, base)
        self._bases.insert(i, base)
        self._items.insert(i, (size, item))

    def remove(self, base: int) -> None:
        i = bisect.bisect_left(self._bases, base)
        if i < len(self._bases) and self._bases[i] == base:
            del self._bases[i], self._items[i]

    def find(self, lo: int, hi: int) -> Any:
        i = bisect.bisect_right(self._bases, lo) - 1
        if i < 0:
            return None
        size, item = self._items[i]
        return item if hi <= self._bases[i] + size else None
