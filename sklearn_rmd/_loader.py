"""A batch iterator for in-memory data that skips per-sample collation."""

import torch
from skorch.utils import to_tensor
from torch.utils.data import Subset


def _take(data, index):
    if isinstance(data, dict):
        return {key: value[index] for key, value in data.items()}
    return data[index]


class DeviceBatchLoader:
    """Iterate over a skorch ``Dataset`` of arrays in batches, on the device.

    The whole dataset is moved to ``device`` once; batches are slices chosen
    by index there. Drop-in for ``torch.utils.data.DataLoader`` as skorch's
    ``iterator_train`` / ``iterator_valid``.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset or Subset of one
      Holds ``X`` (array or dict of arrays) and ``y`` (array or None); a
      ``Subset`` (skorch's validation split) selects rows of it.

    batch_size : int
      Rows per batch.

    shuffle : bool (default=False)
      Draw a new permutation each epoch.

    generator : torch.Generator or None (default=None)
      Source of the permutations, for repeatable runs.

    drop_last : bool (default=False)
      Skip the last batch when it is smaller than ``batch_size``.

    device : str (default='cpu')
      Where the batches live.
    """

    def __init__(self, dataset, batch_size, shuffle=False, generator=None,
                 drop_last=False, device="cpu"):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.device = device
        rows = slice(None)
        if isinstance(dataset, Subset):
            rows = torch.as_tensor(dataset.indices)
            dataset = dataset.dataset
        self._X = _take(to_tensor(dataset.X, device="cpu"), rows)
        self._X = to_tensor(self._X, device=device)
        self._y = None if dataset.y is None else to_tensor(dataset.y, device="cpu")[rows].to(device)
        self._n = len(rows) if isinstance(rows, torch.Tensor) else len(dataset)

    def __len__(self):
        if self.drop_last:
            return self._n // self.batch_size
        return -(-self._n // self.batch_size)

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self._n, generator=self.generator).to(self.device)
        else:
            order = torch.arange(self._n, device=self.device)
        for batch in range(len(self)):
            index = order[batch * self.batch_size:(batch + 1) * self.batch_size]
            yi = None if self._y is None else self._y[index]
            yield _take(self._X, index), yi
