"""SyntheticCTSlicer: the SyntheticCT module's MRML layer (no Qt): label map/segmentation node in,
``lowdose synth`` in the background, the first synthetic CT and its labels back into the scene."""
