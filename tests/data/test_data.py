"""Datasets by name, clear errors when absent, and the reproducible loaders."""
import pytest
import torch
from PIL import Image

from nasbook.data import DatasetNotFound, get_dataset, make_loader, search_split
from nasbook.data.transforms import Cutout


def test_digits_offline_default():
    train, info = get_dataset("digits", "train")
    test, _ = get_dataset("digits", "test")
    assert (info.num_classes, info.in_channels, info.resolution) == (10, 1, 8)
    assert len(train) + len(test) == 1797
    x, y = train[0]
    assert x.shape == (1, 8, 8) and 0 <= int(y) < 10
    up, info16 = get_dataset("digits", "train", resolution=16)
    assert up[0][0].shape == (1, 16, 16) and info16.resolution == 16


@pytest.mark.parametrize("name,folder", [("cifar10", "cifar-10-batches-py"), ("cifar100", "cifar-100-python")])
def test_missing_cifar_is_a_clear_error(tmp_path, name, folder):
    with pytest.raises(DatasetNotFound) as e:
        get_dataset(name, "train", root=tmp_path)
    msg = str(e.value)
    assert folder in msg and "--download" in msg


def test_missing_imagenet_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetNotFound, match="ImageFolder"):
        get_dataset("imagenet", "train", root=tmp_path)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="known: digits"):
        get_dataset("mnist")


def test_imagenet_from_imagefolder_tree(tmp_path):
    for split in ("train", "val"):
        for c in ("cat", "dog"):
            d = tmp_path / split / c
            d.mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (40 + i, 30), (i * 40, 100, 200)).save(d / f"{i}.png")
    train, info = get_dataset("imagenet", "train", root=tmp_path, resolution=32)
    val, _ = get_dataset("imagenet", "test", root=tmp_path, resolution=32)
    assert len(train) == len(val) == 6 and train.classes == ["cat", "dog"]
    assert train[0][0].shape == val[0][0].shape == (3, 32, 32)


def test_cutout_zeroes_a_square_clipped_at_the_border():
    torch.manual_seed(0)
    img = torch.ones(3, 32, 32)
    zeros = [(Cutout(16)(img) == 0).all(0).sum().item() for _ in range(50)]
    assert max(zeros) == 256 and min(zeros) < 256  # full 16x16 inside, clipped near borders


def test_search_split_halves():
    a, b = search_split(10, 0.5)
    assert a == [0, 1, 2, 3, 4] and b == [5, 6, 7, 8, 9]
    with pytest.raises(ValueError):
        search_split(10, 1.5)
    # class-sorted targets (ImageFolder): split within each class, not whole classes
    a, b = search_split(8, 0.5, [0, 0, 0, 0, 1, 1, 1, 1])
    assert a == [0, 1, 4, 5] and b == [2, 3, 6, 7]
    # unsorted targets (CIFAR): the DARTS first-half rule
    assert search_split(4, 0.5, [1, 0, 1, 0]) == ([0, 1], [2, 3])


def _epoch(loader, epoch, start=0):
    loader.sampler.set_epoch(epoch, start)
    return [(x.clone(), y.clone()) for x, y in loader]


def test_loader_order_is_a_function_of_seed_and_epoch():
    ds, _ = get_dataset("digits")
    l1 = make_loader(ds, 16, seed=3, indices=range(64))
    l2 = make_loader(ds, 16, seed=3, indices=range(64), workers=0)
    e0, e0b, e1 = _epoch(l1, 0), _epoch(l2, 0), _epoch(l1, 1)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(e0, e0b))
    assert not torch.equal(e0[0][1], e1[0][1])
    # resuming at sample 32 gives exactly the tail of the epoch
    tail = _epoch(l1, 0, start=32)
    assert len(tail) == 2 and all(torch.equal(a[0], b[0]) for a, b in zip(e0[2:], tail))


def test_ddp_shards_partition_the_epoch():
    ds, _ = get_dataset("digits")
    seen = []
    for rank in range(2):
        l = make_loader(ds, 8, seed=0, indices=range(40), rank=rank, world=2)
        l.sampler.set_epoch(0)
        seen += [i for i, _ in l.sampler]
    assert sorted(seen) == list(range(40))


def test_augmentation_is_seeded_per_sample():
    """The same (index, seed) gives the same augmented image whatever the global RNG state."""
    from nasbook.data import SeededDataset
    from torchvision import transforms as T

    base = torch.utils.data.TensorDataset(torch.rand(4, 3, 32, 32), torch.zeros(4))

    class Aug(torch.utils.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return T.RandomCrop(32, padding=4)(base[i][0]), 0

    ds = SeededDataset(Aug())
    torch.manual_seed(1)
    a = ds[(2, 1234)][0]
    torch.manual_seed(99)
    b = ds[(2, 1234)][0]
    c = ds[(2, 4321)][0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_creating_an_iterator_leaves_the_global_rng_alone():
    """Exact resume needs this: a resumed run creates its iterator at another moment."""
    ds, _ = get_dataset("digits")
    loader = make_loader(ds, 8, seed=0, indices=range(32))
    loader.sampler.set_epoch(0)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    next(iter(loader))
    assert torch.equal(before, torch.get_rng_state())
