"""Writes the integer, bool and .npz files of npy/testdata with NumPy
(1.24.2 when they were committed): /usr/bin/python3 gen_dtypes.py"""
import numpy as np

np.save("i8_2x3.npy", np.array([[0, -1, 2], [2**62, -2**63, 7]], dtype="<i8"))
np.save("i8_be_3.npy", np.array([1, -2, 3], dtype=">i8"))
np.save("i4_fortran_2x3.npy", np.asfortranarray(np.array([[1, 2, 3], [-4, 5, -2**31]], dtype="<i4")))
np.save("i1_4.npy", np.array([-128, -1, 0, 127], dtype="i1"))
np.save("u1_2x2.npy", np.array([[0, 255], [7, 128]], dtype="u1"))
np.save("b1_3.npy", np.array([True, False, True]))
np.save("f8_scalar.npy", np.float64(0.1))

labels = np.array([3, 1, 4, 1, 5], dtype="<i8")
weight = np.arange(6, dtype="<f4").reshape(2, 3) / 4
np.savez("stored.npz", labels=labels, weight=weight)
np.savez_compressed("deflated.npz", labels=labels, weight=weight)
