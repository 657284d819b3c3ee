"""``numpy.einsum`` on Array, lazily, for subscripts without repeated labels
within one operand (no diagonals): every operand is transposed and given
unit axes onto one index order (the output's labels first), the operands
are multiplied elementwise with broadcasting, and the labels not in the
output are summed, in the result dtype (``np.result_type`` of the operands,
as einsum; no widening of small integers as ``sum`` would).  Anything else
(``out=``, ``dtype=``, a diagonal, the operand-list form, booleans, a
mismatch NumPy reports) runs NumPy's einsum (FallbackWarning)."""
from __future__ import annotations

import numpy as np

from ._coerce import Fallback
from .functions import implements

__all__ = []


def _labels_ok(letters):
    return (not letters or (letters.isascii() and letters.isalpha())) and \
        len(set(letters)) == len(letters)


def _terms(subscripts, ndims):
    """Per operand its labels (ellipsis dimensions as "0", "1", ... counted
    from the right), and the output's; None where not handled here."""
    s = subscripts.replace(" ", "")
    inputs, arrow, output = s.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ndims):
        return None
    width = 0
    for t, nd in zip(terms, ndims):
        letters = t.replace("...", "")
        if not _labels_ok(letters):
            return None
        if "..." in t:
            width = max(width, nd - len(letters))
        elif len(letters) != nd:
            return None
    ell = [str(k) for k in range(width)]
    out_terms = []
    for t, nd in zip(terms, ndims):
        head, dots, tail = t.partition("...")
        n = nd - len(head) - len(tail) if dots else 0
        if n < 0:
            return None
        out_terms.append(list(head) + ell[width - n:] + list(tail))
    if arrow:
        letters = output.replace("...", "")
        if not _labels_ok(letters) or (width and "..." not in output):
            return None
        head, _, tail = output.partition("...")
        out = list(head) + (ell if "..." in output else []) + list(tail)
        if any(all(lab not in t for t in out_terms) for lab in letters):
            return None
    else:
        counts = {}
        for t in out_terms:
            for lab in t:
                counts[lab] = counts.get(lab, 0) + 1
        out = ell + sorted(lab for lab, c in counts.items() if c == 1 and lab.isalpha())
    return out_terms, out


@implements(np.einsum)
def _einsum(*operands, out=None, dtype=None, order="K", casting="safe", optimize=False):
    fallback = Fallback("numpy.einsum", np.einsum, operands,
                        dict(out=out, dtype=dtype, order=order, casting=casting,
                             optimize=optimize))
    if out is not None or dtype is not None or not operands or \
            not isinstance(operands[0], str):
        return fallback
    arrays = operands[1:]
    dt = np.result_type(*arrays) if arrays else None
    if dt is None or dt.kind not in "iufc":
        return fallback
    parsed = _terms(operands[0], [np.ndim(a) for a in arrays])
    if parsed is None:
        return fallback
    terms, output = parsed
    labels = list(output) + sorted({lab for t in terms for lab in t} - set(output))
    sizes = {}
    for t, a in zip(terms, arrays):
        for lab, n in zip(t, np.shape(a)):
            if not lab.isalpha() and n == 1:
                continue                        # an ellipsis axis broadcasts
            if sizes.setdefault(lab, n) != n:
                return fallback                 # NumPy's error
    product = None
    for t, a in zip(terms, arrays):
        order_ = sorted(range(len(t)), key=lambda k: labels.index(t[k]))
        a = np.transpose(a, order_) if order_ != list(range(len(t))) else a
        have = {t[k] for k in order_}
        shape = tuple(np.shape(a)[[t[k] for k in order_].index(lab)] if lab in have else 1
                      for lab in labels)
        a = np.reshape(a, shape)
        a = a.astype(dt) if np.result_type(a) != dt else a
        product = a if product is None else np.multiply(product, a)
    summed = tuple(range(len(output), len(labels)))
    if summed:
        product = np.sum(product, axis=summed, dtype=dt)
    shape = tuple(sizes.get(lab, 1) if lab.isalpha() else np.shape(product)[k]
                  for k, lab in enumerate(output))
    if tuple(np.shape(product)) != shape:
        product = np.broadcast_to(product, shape)
    return product
