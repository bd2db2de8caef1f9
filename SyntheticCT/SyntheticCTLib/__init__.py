"""SyntheticCTLib: synthetic CT volumes from label maps (pure Python; reuses LowDoseRobustnessLib's simulator)."""
