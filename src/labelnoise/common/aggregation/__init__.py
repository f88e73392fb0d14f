"""labelnoise.common.aggregation."""
