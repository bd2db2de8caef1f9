"""The study engine: cases x doses x reconstructions x models x realizations, written into one study folder."""
