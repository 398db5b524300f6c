"""Data: read and validate the split files, download THUCNews-10, and encode texts into cached token ids.

read.py reads one file of any supported format; task.py puts the splits of a folder together under a
protocol (and summarises them); download.py fetches and verifies THUCNews-10; encode.py tokenises whole
splits in batches, caches the ids, measures tokenisation, and pads batches.
"""
