"""Files in and out: volumes (NIfTI, NRRD, MHA, DICOM series), label-name sidecars, the atomic writer."""
