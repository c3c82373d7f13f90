"""The papers' augmentations, built from torchvision transforms."""
from __future__ import annotations

import torch
from torchvision import transforms as T

CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CIFAR100_MEAN, CIFAR100_STD = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class Cutout(torch.nn.Module):
    """Cutout (DeVries & Taylor 2017) as in the DARTS code: zero one ``length`` x ``length``
    square centred at a uniform pixel, clipped at the border. torchvision's RandomErasing
    keeps its box inside the image, which changes the distribution, so this one is ours."""

    def __init__(self, length: int):
        super().__init__()
        self.length = length

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        y, x = int(torch.randint(h, (1,))), int(torch.randint(w, (1,)))
        y1, y2 = max(0, y - self.length // 2), min(h, y + self.length // 2)
        x1, x2 = max(0, x - self.length // 2), min(w, x + self.length // 2)
        img = img.clone()
        img[..., y1:y2, x1:x2] = 0
        return img


def cifar_train(mean, std, cutout: int = 0, auto_augment: str | None = None):
    """Random crop 32 pad 4 + horizontal flip (+ AutoAugment's CIFAR-10 policy when
    ``auto_augment == "autoaugment"``, as MGAS' search) (+ cutout): DARTS Sec. A.1.1."""
    t = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()]
    if auto_augment == "autoaugment":
        t.append(T.AutoAugment(T.AutoAugmentPolicy.CIFAR10))
    t += [T.ToTensor(), T.Normalize(mean, std)]
    if cutout:
        t.append(Cutout(cutout))
    return T.Compose(t)


def cifar_test(mean, std):
    return T.Compose([T.ToTensor(), T.Normalize(mean, std)])


def imagenet_train(size: int = 224, color_jitter: bool = True, auto_augment: str | None = None):
    """RandomResizedCrop + flip (+ ColorJitter(0.4, 0.4, 0.4, 0.2) as in DARTS/PC-DARTS ImageNet)."""
    t = [T.RandomResizedCrop(size), T.RandomHorizontalFlip()]
    if auto_augment == "autoaugment":
        t.append(T.AutoAugment(T.AutoAugmentPolicy.IMAGENET))
    elif auto_augment == "randaugment":
        t.append(T.RandAugment())
    elif color_jitter:
        t.append(T.ColorJitter(0.4, 0.4, 0.4, 0.2))
    t += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(t)


def imagenet_eval(size: int = 224):
    """Resize to size/0.875 (256 for 224), centre crop."""
    return T.Compose([T.Resize(int(round(size / 0.875))), T.CenterCrop(size), T.ToTensor(),
                      T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
