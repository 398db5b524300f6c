"""The leaderboard: a pure function of the run folders, never of the code that wrote them.

runs.py reads and validates results files; ranking.py groups comparable runs into ranked rows and compares every
pair; stats.py holds the statistics; trials.py reads tuning sections and failed folders, sweeps.py gathers each
sweep's studies and tuning.py computes their expected validation performance; columns.py declares the main table's
columns once for every output; tables.py builds every table as data and notes.py holds the words; markdown.py,
html.py and plots.py write the files; leaderboard.py writes them all in place.
"""
