"""One module per backbone. Each calls `benchmark.registry.register` once; see README, "Adding a backbone"."""
