"""labelnoise.common.datasets."""
