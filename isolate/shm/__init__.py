"""Reference-counted shared-memory tensors, owned by the host.

The host (`ShmHost`) creates, counts and unlinks every segment; a child (`ShmClient`) maps them by name and
carves its outputs from slabs the host grants it. A tensor or numpy array crosses as a `TensorHandle`
(never the data): without a copy when it already lies in shared memory, else with one copy.
"""

from ._client import ShmClient
from ._host import ShmHost
from ._segment import cleanup_stale, shm_root
from ._types import ShmError, ShmStats, SlabExhausted, SlabGrant, TensorHandle

__all__ = [
    "ShmClient",
    "ShmError",
    "ShmHost",
    "ShmStats",
    "SlabExhausted",
    "SlabGrant",
    "TensorHandle",
    "cleanup_stale",
    "shm_root",
]
