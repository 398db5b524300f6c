"""Tuning: every backbone the same budget of trials, drawn by Optuna from its search space and selected on the
dev set alone (sweep.py); the Optuna study, kept in the results folder, behind a few functions (study.py)."""
