"""Closing the loop: rule actions, backtests, the exported policy and override propensity."""
