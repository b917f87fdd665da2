"""Model health: is the AI still right? Drift, calibration, false positives, acceptance, alerts.

Pure pandas/numpy over the contract's frames (``recommendations``, ``decisions``,
``outcomes``); never reads the store. Each statistic has its own module:
``psi`` (population stability of a feature), ``drift`` (weekly PSI runs), ``calibration``
(ECE, Brier, false-positive rate), ``acceptance`` (binomial CUSUM of override rates),
``versions`` (model versions side by side), ``alerts`` (the alert list), then ``text``
and ``charts``.
"""
