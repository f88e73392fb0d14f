"""Task adapters: each turns its batches into core units (labelnoise.common.units)."""
