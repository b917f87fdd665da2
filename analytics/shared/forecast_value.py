"""The contract's value added by a person's quantity, per recommendation (as in Forecast
Value Added): how much closer to ``actual_qty`` the final quantity ended than the model's."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def unit_errors(
    recommended: ArrayLike, final: ArrayLike, actual: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """(|recommended − actual|, |final − actual|) element-wise; NaN where a value is missing."""
    r = np.asarray(recommended, dtype="float64")
    f = np.asarray(final, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    return np.abs(r - a), np.abs(f - a)


def unit_gain(recommended: ArrayLike, final: ArrayLike, actual: ArrayLike) -> np.ndarray:
    """``|recommended − actual| − |final − actual|``: positive when the person's final
    quantity ended closer to what was needed; NaN where any of the three is missing."""
    model_error, person_error = unit_errors(recommended, final, actual)
    return model_error - person_error
