"""Sparse matrices as torch CSR tensors: their products with dense slice blocks use every core."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch


def to_torch_csr(matrix: sp.spmatrix) -> torch.Tensor:
    """A scipy sparse matrix as a float32 torch CSR tensor (32-bit indices when they fit)."""
    matrix = matrix.tocsr().astype(np.float32, copy=False)
    index_type = np.int32 if matrix.nnz < 2 ** 31 else np.int64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(torch.from_numpy(matrix.indptr.astype(index_type, copy=False)),
                                       torch.from_numpy(matrix.indices.astype(index_type, copy=False)),
                                       torch.from_numpy(matrix.data), size=matrix.shape, check_invariants=False)
