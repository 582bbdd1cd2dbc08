"""Plots of a fit, as matplotlib ``Figure`` objects (no pyplot state is touched;
save with ``fig.savefig(path)``).

- :func:`residuals_vs_fitted`, :func:`qq` — conditional residuals (``residuals.py``)
- :func:`caterpillar` — EBLUPs with prediction intervals (``caterpillar.py``)
- :func:`profile` — profile likelihood of one covariance parameter and its
  likelihood-based interval (``profile.py``)
- :func:`iteration_history` — −2ℓ and the criterion per Newton iteration (``history.py``)
- :func:`forest` — one fixed effect across BY groups (``forest.py``)
"""

from .caterpillar import caterpillar
from .forest import forest
from .history import iteration_history
from .profile import profile, profile_table
from .residuals import qq, residuals_vs_fitted

__all__ = ["residuals_vs_fitted", "qq", "caterpillar", "profile", "profile_table", "iteration_history", "forest"]
