"""Event ids as the text a response carries (``str(UUID)``), made from their bytes.

An append's receipts name up to ten look-alikes each: a batch of 1000 names about
10,000 ids. Made as ``UUID`` objects (about 0.6 us each) and written by the encoder
(about 60 ns each, every time one is named), they were a tenth of a batch's CPU on
the event loop and the worker; as text, made once per distinct id (many together
in numpy), the encoder copies them.
"""

import numpy as np

_FEW = 16
"""Up to this many ids are made one by one (numpy costs a few microseconds at least)."""
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_DASHES = [8, 13, 18, 23]
_DIGITS = np.array([i for i in range(36) if i not in _DASHES])
"""Where the 32 hex digits go in the 36 characters, in order."""


def id_text(key: bytes) -> str:
    """``str(UUID(bytes=key))``."""
    h = key.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def id_texts(packed: bytes) -> list[str]:
    """``id_text`` of each 16 bytes of ``packed``, in order."""
    count = len(packed) // 16
    if count <= _FEW:
        return [id_text(packed[16 * i : 16 * i + 16]) for i in range(count)]
    raw = np.frombuffer(packed, np.uint8).reshape(count, 16)
    digits = np.empty((count, 32), np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 15]
    text = np.full((count, 36), ord("-"), np.uint8)
    text[:, _DIGITS] = digits
    joined = text.tobytes().decode("ascii")
    return [joined[i : i + 36] for i in range(0, 36 * count, 36)]
