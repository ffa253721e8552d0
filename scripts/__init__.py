"""Developer scripts: the benchmark (`make bench`) and its helpers."""
