"""Knowledge distillation: a small student learns from a trained teacher's outputs as well as the labels.

Soft (Hinton et al., 2015): (1 - alpha) * CE(student, labels)
                            + alpha * tau^2 * KL(softmax(teacher / tau) || softmax(student / tau)).
The temperature tau > 1 flattens both distributions so the student also learns how the teacher
ranks the wrong classes ("dark knowledge"); the tau^2 factor keeps the soft term's gradients on
the same scale as the hard term's when tau changes.
Hard (Touvron et al., 2021, DeiT): the teacher's argmax is used as a second label,
(1 - alpha) * CE(student, labels) + alpha * CE(student, argmax teacher).
Labels may be class indices or soft Mixup/CutMix targets; label smoothing applies to the label term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vitcourse.predict import fraction_equal, predictions

KINDS = ("soft", "hard")


def soft_distillation_term(student_logits: torch.Tensor, teacher_logits: torch.Tensor, tau: float) -> torch.Tensor:
    """tau^2 * KL(p_teacher || p_student) at temperature tau, averaged over the batch."""
    s = F.log_softmax(student_logits.float() / tau, dim=-1)
    t = F.log_softmax(teacher_logits.float() / tau, dim=-1)
    return tau * tau * F.kl_div(s, t, log_target=True, reduction="batchmean")


def hard_distillation_term(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(student_logits.float(), teacher_logits.argmax(dim=-1))


def check_options(kind: str, alpha: float, tau: float) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown distillation kind {kind!r}: use 'soft' (Hinton) or 'hard' (DeiT)")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha={alpha} must be in [0, 1]: it weighs the teacher term against the labels")
    if tau <= 0:
        raise ValueError(f"tau={tau} must be positive")


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      kind: str = "soft", alpha: float = 0.5, tau: float = 4.0,
                      label_smoothing: float = 0.0, distill_logits: torch.Tensor | None = None) -> torch.Tensor:
    """Label term on `student_logits`, teacher term on `distill_logits` (default: the same logits;
    DeiT's distillation token gives its own)."""
    check_options(kind, alpha, tau)
    distill_logits = student_logits if distill_logits is None else distill_logits
    label_term = F.cross_entropy(student_logits.float(), targets, label_smoothing=label_smoothing)
    teacher_term = (soft_distillation_term(distill_logits, teacher_logits, tau) if kind == "soft"
                    else hard_distillation_term(distill_logits, teacher_logits))
    return (1 - alpha) * label_term + alpha * teacher_term


def freeze(teacher: nn.Module) -> nn.Module:
    """Evaluation mode (BatchNorm uses its running statistics) and no gradients: the teacher is fixed."""
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def distillation_objective(teacher: nn.Module, kind: str = "soft", alpha: float = 0.5, tau: float = 4.0,
                           label_smoothing: float = 0.0):
    """An objective for `vitcourse.train.fit`: (net, images, targets) -> (loss, logits).

    A student that returns two outputs while training (DeiT's class and distillation heads) has
    the label term on the first and the teacher term on the second; its reported logits are
    their average, which is also what it predicts at evaluation time.
    """
    check_options(kind, alpha, tau)  # fail before training starts, not at the first step
    teacher = freeze(teacher)

    def objective(net, images, targets):
        with torch.no_grad():
            teacher_logits = teacher(images).float()
        out = net(images)
        if isinstance(out, tuple):
            cls_logits, dist_logits = out
            loss = distillation_loss(cls_logits, teacher_logits, targets, kind, alpha, tau, label_smoothing,
                                     distill_logits=dist_logits)
            return loss, (cls_logits + dist_logits) / 2
        return distillation_loss(out, teacher_logits, targets, kind, alpha, tau, label_smoothing), out
    return objective


def agreement(student: nn.Module, teacher: nn.Module, images: torch.Tensor, batch_size: int = 256) -> float:
    """Fraction of images on which student and teacher predict the same class."""
    return fraction_equal(predictions(student, images, batch_size), predictions(teacher, images, batch_size))
