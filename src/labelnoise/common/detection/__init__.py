"""labelnoise.common.detection."""
