"""The checks of the course's exercises: ``softmax_rows = check_softmax(softmax_rows)`` (CONTRIBUTING.md).

Kept out of ``mnistlib`` on purpose: mnistlib is the code the course runs, small enough to read in an afternoon;
this package is the grader, which knows every exercise's answer and the signatures of its classic mistakes.
"""

from exercises.checks import (
    CheckError,
    check_parse_idx_header,
    check_read_idx,
    check_bce_loss_and_grads,
    check_sgd_step,
    check_softmax,
    check_cross_entropy,
    check_two_layer_forward,
    check_two_layer_backprop,
    check_numerical_gradient,
    check_relative_error,
    check_momentum_step,
    check_confusion_matrix,
    check_unbroadcast,
    check_topological_order,
)

__all__ = [
    "CheckError",
    "check_parse_idx_header",
    "check_read_idx",
    "check_bce_loss_and_grads",
    "check_sgd_step",
    "check_softmax",
    "check_cross_entropy",
    "check_two_layer_forward",
    "check_two_layer_backprop",
    "check_numerical_gradient",
    "check_relative_error",
    "check_momentum_step",
    "check_confusion_matrix",
    "check_unbroadcast",
    "check_topological_order",
]
