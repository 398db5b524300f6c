"""The leaderboard: a pure function of the run folders, never of the code that wrote them.

runs.py reads and validates results files; ranking.py groups comparable runs into ranked rows; stats.py holds
the statistics; columns.py declares the table's columns once for Markdown and CSV; markdown.py, errors_md.py
and plots.py write the files; leaderboard.py writes them all in place.
"""
