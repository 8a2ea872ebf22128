"""mnistlib: the small helper package shared by every notebook of *MNIST from scratch with NumPy*.

One module per concept, each introduced by a notebook:

- ``idx``       read and write IDX files (notebook 01)
- ``datasets``  ``load_mnist()``: find, download, verify and cache MNIST / Fashion-MNIST (notebook 01)
- ``functions`` stable sigmoid, softmax, log-sum-exp, cross-entropy, accuracy (notebooks 02-03)
- ``layers``    forward/backward function pairs (notebooks 02-04)
- ``models``    logistic and softmax regression, the sigmoid MLP (notebooks 02-04)
- ``train``     mini-batch SGD returning a history (notebook 02 on)
- ``gradcheck`` numerical gradients and gradient checks (notebook 05)
- ``plots``     figures drawn from data and histories
- ``widgets``   ipywidgets explorers (notebook 06)

Modules are imported on demand (``from mnistlib import idx``), so importing the package is cheap.
"""

__version__ = "0.1.0"
