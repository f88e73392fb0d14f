"""labelnoise.common.losses."""
