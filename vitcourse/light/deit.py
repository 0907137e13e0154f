"""DeiT's distillation token (Touvron et al., 2021): a second learned token beside the class token.

It enters the sequence like the class token, gets its own position embedding, interacts with the
patches through attention in every layer, and has its own linear head at the output. During
training the class head learns from the labels and the distillation head from the teacher; at
test time the two heads' logits are averaged. Implemented as a subclass of the course's ViT, so
every block, inspection and compression function works on it unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from vitcourse.models import ViT
from vitcourse.models.position import make_position_embedding


class DistilledViT(ViT):
    """ViT + distillation token. In training mode forward returns (class logits, distillation
    logits), as `distillation_objective` expects; in evaluation mode their average."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.cls_token is None or self.pool != "cls":
            raise ValueError("the distillation token sits beside the class token: build DistilledViT "
                             "with pool='cls' (the default).")
        dim, classes = self.config["dim"], self.config["num_classes"]
        if classes <= 0:
            raise ValueError("DistilledViT needs num_classes > 0: the distillation head is a classifier.")
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.dist_token, std=0.02)  # DeiT's init; a zero token would copy the class token
        self.num_prefix = 2
        # Two prefix rows now (class, distillation), so the position table gets one more row.
        self.pos_embed = make_position_embedding(self.config["pos_embed"], self.grid, dim, self.num_prefix)
        self.head_dist = nn.Linear(dim, classes)
        nn.init.zeros_(self.head_dist.weight)
        nn.init.zeros_(self.head_dist.bias)

    def prefix(self, batch: int) -> torch.Tensor:
        """Class token, then distillation token."""
        return torch.cat([self.cls_token.expand(batch, -1, -1), self.dist_token.expand(batch, -1, -1)], dim=1)

    def forward_heads(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y_cls, y_dist = tokens[:, 0], tokens[:, 1]
        if self.config["norm_after_pool"]:
            y_cls, y_dist = self.norm(y_cls), self.norm(y_dist)
        return self.head(self.pre_logits(y_cls)), self.head_dist(y_dist)

    def forward(self, images: torch.Tensor):
        cls_logits, dist_logits = self.forward_heads(self.forward_features(images))
        if self.training:
            return cls_logits, dist_logits
        return (cls_logits + dist_logits) / 2

    def reset_classifier(self, num_classes: int, keep_pre_logits: bool = False):
        super().reset_classifier(num_classes, keep_pre_logits)
        self.head_dist = nn.Linear(self.config["dim"], num_classes)
        nn.init.zeros_(self.head_dist.weight)
        nn.init.zeros_(self.head_dist.bias)
        return self


def distilled_from(vit: ViT) -> DistilledViT:
    """A DistilledViT with the same configuration as `vit` (fresh weights)."""
    return DistilledViT(**vit.config)


@torch.no_grad()
def head_accuracies(model: DistilledViT, images: torch.Tensor, labels: torch.Tensor,
                    batch_size: int = 256) -> dict[str, float]:
    """Test accuracy of the class head, the distillation head and their average (as DeiT reports)."""
    model.eval()
    hits = {"class head": 0, "distillation head": 0, "average": 0}
    for i in range(0, len(images), batch_size):
        x, y = images[i:i + batch_size], labels[i:i + batch_size]
        a, b = model.forward_heads(model.forward_features(x))
        for name, logits in (("class head", a), ("distillation head", b), ("average", (a + b) / 2)):
            hits[name] += (logits.argmax(1) == y).sum().item()
    return {k: v / max(len(images), 1) for k, v in hits.items()}
