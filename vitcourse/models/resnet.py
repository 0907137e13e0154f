"""ResNet-18 (He et al., 2016), the CNN baseline of the course, in two stems.

`stem="imagenet"`: 7x7 stride-2 convolution and max-pool, exactly torchvision's resnet18 (same
parameter names, so its state dict loads unchanged). `stem="cifar"`: a 3x3 stride-1 convolution
and no max-pool, the usual form for 32x32 images, which would otherwise shrink to 1x1 too early.
`width` is the first stage's channel count (64 in ResNet-18; the stages double it); smaller widths
exist only for CPU smoke runs, where the real network is far too slow to evaluate.
"""

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:  # match the shortcut's shape to the branch's
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet(nn.Module):
    def __init__(self, blocks=(2, 2, 2, 2), num_classes: int = 10, in_channels: int = 3, stem: str = "cifar",
                 width: int = 64):
        super().__init__()
        if stem == "cifar":
            self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
            self.maxpool = nn.Identity()
        elif stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, width, 7, 2, 3, bias=False)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
        else:
            raise ValueError(f"unknown stem={stem!r}: use 'cifar' (3x3, no max-pool, for 32 px images) "
                             f"or 'imagenet' (7x7 stride 2 + max-pool, torchvision's resnet18).")
        self.config = dict(blocks=tuple(blocks), num_classes=num_classes, in_channels=in_channels, stem=stem,
                           width=width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        widths, in_ch = (width, 2 * width, 4 * width, 8 * width), width
        for i, (n, out_ch) in enumerate(zip(blocks, widths), start=1):
            stride = 1 if i == 1 else 2
            layer = [BasicBlock(in_ch, out_ch, stride)] + [BasicBlock(out_ch, out_ch) for _ in range(n - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layer))
            in_ch = out_ch
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_ch, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(num_classes: int = 10, stem: str = "cifar", in_channels: int = 3, width: int = 64) -> ResNet:
    return ResNet((2, 2, 2, 2), num_classes, in_channels, stem, width)
