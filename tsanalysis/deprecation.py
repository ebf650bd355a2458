"""Spellings of earlier releases that still work for one more release, with a warning."""

from __future__ import annotations

import warnings


def deprecated(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that ``old`` goes in the next release and ``new`` replaces it.

    ``stacklevel`` 3 points the warning at the caller of the function that calls this.
    """
    warnings.warn(f"{old} is deprecated and goes in the next release: use {new}",
                  DeprecationWarning, stacklevel=stacklevel)
