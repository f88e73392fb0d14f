"""labelnoise.common.metrics."""
