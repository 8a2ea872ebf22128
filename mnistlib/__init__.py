"""mnistlib: the small helper package shared by every notebook of *MNIST from scratch with NumPy*.

One module per concept, each introduced by a notebook: ``idx`` (read and write IDX files, 01), ``datasets``
(``load_mnist``: find, download, verify and cache MNIST, 01), ``functions`` (stable sigmoid, softmax, cross-entropy,
02-03), ``layers`` (forward/backward pairs, 02-04), ``models`` (the two regressions and the sigmoid MLP, 02-04),
``train`` (mini-batch SGD returning a history, 02 and 06), ``gradcheck`` (numerical gradients that decide, 05),
``plots`` (figures and diagrams), ``widgets`` (ipywidgets explorers, 06), ``autodiff`` (reverse mode, 07).
Private helpers: ``_checks`` (argument checks shared by all modules); atomic writes are ``idx.atomic_write``.

Modules are imported on demand (``from mnistlib import idx``), so importing the package is cheap.
"""

__version__ = "0.2.0"
