"""Evaluation: metrics and disagreement maps of two label maps, the tidy results table, figures and the report."""
