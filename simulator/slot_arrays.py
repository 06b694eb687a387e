"""Arrays that grow without copying what they hold: the order window's slot arrays.

The window (``order_window.py``) grows its overflow to twice its size when the old orders
resting there fill it; with many symbols that is hundreds of MiB of slot arrays, and making
new arrays and copying the old ones in took about 60 ms a time, 4-6 % of the bank's CPU at
10,000 symbols and more. Here each array is a view of an anonymous private memory map, which
grows by ``mremap``: the kernel moves its pages (or extends them in place) and copies nothing,
and the new part is zero pages, resident only once written, as with ``np.zeros``. Where that
cannot be had (another view of the array is still alive, or the system has no ``mremap``) the
array is made anew and copied, as before. Pure model: numpy and the standard library's mmap.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

# private: a shared anonymous map that grows faults on its new pages (SIGBUS) on Linux
_FLAGS = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
_NO_GROWTH = (BufferError, OSError, SystemError, ValueError, TypeError)


class SlotArrays:
    """Gives an owner's attributes as arrays of ``rows`` rows, growing them in place."""

    def __init__(self) -> None:
        self._maps: dict[str, tuple[mmap.mmap, np.ndarray]] = {}  # name -> its map, the view given

    def __deepcopy__(self, memo: dict) -> SlotArrays:
        return SlotArrays()  # a copy's arrays are plain copies: its next growth copies them

    def grow(self, owner: Any, name: str, dtype: type, width: int, rows: int, keep: bool = True) -> None:
        """Set ``owner.<name>`` to ``rows`` rows (of ``width`` items, 0: a vector) of ``dtype``,
        the first rows as it held them (zeros if not ``keep``), the rest 0."""
        shape = (rows, width) if width else (rows,)
        nbytes = rows * max(width, 1) * np.dtype(dtype).itemsize
        old = owner.__dict__.pop(name, None)
        mm, given = self._maps.pop(name, (None, None))
        if mm is not None and old is given and keep:
            del old, given  # the map moves only when no view of it is left
            try:
                mm.resize(nbytes)
            except _NO_GROWTH:
                old = np.frombuffer(mm, dtype).reshape(-1, *shape[1:])  # still readable: copy it
            else:
                self._give(owner, name, mm, dtype, shape)
                return
        new = self._map(nbytes)
        self._give(owner, name, new, dtype, shape)
        if keep and old is not None:
            getattr(owner, name)[: len(old)] = old

    def _map(self, nbytes: int) -> mmap.mmap:
        return mmap.mmap(-1, max(nbytes, 1), flags=_FLAGS) if _FLAGS else mmap.mmap(-1, max(nbytes, 1))

    def _give(self, owner: Any, name: str, mm: mmap.mmap, dtype: type, shape: tuple[int, ...]) -> None:
        view: np.ndarray = np.frombuffer(mm, dtype, count=int(np.prod(shape))).reshape(shape)
        self._maps[name] = (mm, view)
        setattr(owner, name, view)
