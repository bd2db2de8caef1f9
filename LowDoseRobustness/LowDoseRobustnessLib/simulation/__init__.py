"""Simulation of lower-dose acquisitions: HU <-> attenuation, the photon-count noise model, the dose simulator,
image-domain noise realizations learnt from it."""
