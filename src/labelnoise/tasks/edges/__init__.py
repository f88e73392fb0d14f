"""Edge detection with multi-annotator noise (BSDS500), PNT-Edge and a tolerance-aware loss."""
