"""Type aliases for arrays (numpy is imported only by the type checker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    import numpy as np
    from numpy.typing import NDArray

    ImageArray: TypeAlias = NDArray[np.uint8]
    """An H×W×3 uint8 RGB image, C-contiguous (what every backend receives)."""
    Vector: TypeAlias = NDArray[np.float64]
    """A face embedding."""
