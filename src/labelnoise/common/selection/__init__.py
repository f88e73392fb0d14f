"""labelnoise.common.selection."""
