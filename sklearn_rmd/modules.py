"""Torch modules: default encoders, SimSiam heads and the student networks.

Every encoder maps a batch of flat rows ``(n, n_features)`` to embeddings
``(n, out_dim)``; CNN encoders view each row with ``input_shape`` first, so
images and signals stay 2-D for scikit-learn.
"""

import torch
from torch import nn


def _mlp_block(d_in, d_out, dropout):
    layers = [nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return layers


class MLPEncoder(nn.Module):
    """Fully connected encoder for plain feature rows.

    Parameters
    ----------
    n_features : int
      Length of an input row.

    hidden_dims : sequence of int (default=(256, 256))
      Width of each hidden layer.

    embedding_dim : int (default=128)
      Size of the output embedding.

    dropout : float (default=0.0)
      Dropout after each hidden layer.
    """

    def __init__(self, n_features, hidden_dims=(256, 256), embedding_dim=128, dropout=0.0):
        super().__init__()
        layers, d_in = [], n_features
        for width in hidden_dims:
            layers += _mlp_block(d_in, width, dropout)
            d_in = width
        layers += _mlp_block(d_in, embedding_dim, 0.0)
        self.layers = nn.Sequential(*layers)
        self.out_dim = embedding_dim

    def forward(self, x):
        return self.layers(x)


class _ConvEncoder(nn.Module):
    """Shared body of the 1-D and 2-D CNN encoders.

    The first block keeps the resolution, every later block halves it; a
    global average pool and a linear layer give the embedding.
    """

    conv = pool = norm = None

    def __init__(self, input_shape, hidden_dims, embedding_dim, dropout, kernel_size):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        layers, c_in = [], self.input_shape[0]
        for i, width in enumerate(hidden_dims):
            layers += [
                self.conv(c_in, width, kernel_size, stride=1 if i == 0 else 2,
                          padding=kernel_size // 2),
                self.norm(width),
                nn.ReLU(),
            ]
            c_in = width
        layers.append(self.pool(1))
        self.features = nn.Sequential(*layers)
        self.project = nn.Sequential(
            nn.Flatten(), *_mlp_block(c_in, embedding_dim, dropout)
        )
        self.out_dim = embedding_dim

    def forward(self, x):
        return self.project(self.features(x.reshape(-1, *self.input_shape)))


class Conv1dEncoder(_ConvEncoder):
    """1-D CNN encoder for signals, rows viewed as ``input_shape=(C, L)``.

    Parameters
    ----------
    input_shape : tuple (C, L)
      Channels and length of one signal; ``C * L`` must equal the row length.

    hidden_dims : sequence of int (default=(32, 64, 128))
      Channels of each convolution block.

    embedding_dim : int (default=128)
      Size of the output embedding.

    dropout : float (default=0.0)
      Dropout before the embedding.
    """

    conv, pool, norm = nn.Conv1d, nn.AdaptiveAvgPool1d, nn.BatchNorm1d

    def __init__(self, input_shape, hidden_dims=(32, 64, 128), embedding_dim=128, dropout=0.0):
        super().__init__(input_shape, hidden_dims, embedding_dim, dropout, kernel_size=5)


class Conv2dEncoder(_ConvEncoder):
    """Small 2-D CNN encoder for images, rows viewed as ``input_shape=(C, H, W)``.

    Parameters
    ----------
    input_shape : tuple (C, H, W)
      Channels, height and width; ``C * H * W`` must equal the row length.

    hidden_dims : sequence of int (default=(32, 64, 128))
      Channels of each convolution block.

    embedding_dim : int (default=128)
      Size of the output embedding.

    dropout : float (default=0.0)
      Dropout before the embedding.
    """

    conv, pool, norm = nn.Conv2d, nn.AdaptiveAvgPool2d, nn.BatchNorm2d

    def __init__(self, input_shape, hidden_dims=(32, 64, 128), embedding_dim=128, dropout=0.0):
        super().__init__(input_shape, hidden_dims, embedding_dim, dropout, kernel_size=3)


def make_encoder(n_features, input_shape=None, hidden_dims=None, embedding_dim=128, dropout=0.0):
    """Build the default encoder for rows of ``n_features`` values.

    ``input_shape`` of length 2 gives a 1-D CNN, of length 3 a 2-D CNN, and
    ``None`` an MLP. ``hidden_dims=None`` takes the kind's default widths.
    """
    if input_shape is None:
        dims = (256, 256) if hidden_dims is None else tuple(hidden_dims)
        return MLPEncoder(n_features, dims, embedding_dim, dropout)
    dims = (32, 64, 128) if hidden_dims is None else tuple(hidden_dims)
    cls = Conv1dEncoder if len(input_shape) == 2 else Conv2dEncoder
    return cls(input_shape, dims, embedding_dim, dropout)


def output_dim(encoder, n_features):
    """Embedding size of ``encoder``, read from ``out_dim`` or a dry run."""
    if hasattr(encoder, "out_dim"):
        return int(encoder.out_dim)
    was_training = encoder.training
    encoder.eval()
    with torch.no_grad():
        param = next(encoder.parameters(), None)
        device = param.device if param is not None else "cpu"
        out = encoder(torch.zeros(2, n_features, device=device))
    encoder.train(was_training)
    if out.ndim != 2 or out.shape[0] != 2:
        raise ValueError(
            "A user-supplied `module` must map a batch of shape (n, n_features) to "
            f"embeddings of shape (n, d); it returned shape {tuple(out.shape)}."
        )
    return int(out.shape[1])


class SimSiamModule(nn.Module):
    """Encoder with the SimSiam projector and predictor.

    ``forward(x)`` returns the encoder's embedding (the teacher feature);
    ``forward(view1, view2)`` (same as ``views``) returns the predictions and
    projections of two views.

    Parameters
    ----------
    encoder : nn.Module
      Backbone g.

    in_dim : int
      Embedding size of ``encoder``.

    projection_dim : int
      Output size of the projector h; the predictor q has a bottleneck of a
      quarter of it.
    """

    def __init__(self, encoder, in_dim, projection_dim):
        super().__init__()
        self.encoder = encoder
        hidden = max(projection_dim // 4, 8)
        self.projector = nn.Sequential(
            nn.Linear(in_dim, projection_dim, bias=False),
            nn.BatchNorm1d(projection_dim),
            nn.ReLU(),
            nn.Linear(projection_dim, projection_dim, bias=False),
            nn.BatchNorm1d(projection_dim, affine=False),
        )
        self.predictor = nn.Sequential(
            nn.Linear(projection_dim, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, projection_dim),
        )

    def forward(self, x, view2=None):
        # Both views go through forward (not only ``views``) so that wrappers
        # that hook forward (torch.compile, DistributedDataParallel) see them.
        if view2 is not None:
            return self.views(x, view2)
        return self.encoder(x)

    def views(self, view1, view2):
        """Return ``(p1, p2, z1, z2)`` for two augmented views of a batch."""
        z = self.projector(self.encoder(torch.cat([view1, view2])))
        p = self.predictor(z)
        n = view1.shape[0]
        return p[:n], p[n:], z[:n], z[n:]


class StudentNetwork(nn.Module):
    """Task network: encoder f and a linear classifier head."""

    def __init__(self, encoder, in_dim, n_classes):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(in_dim, n_classes)

    def forward(self, x):
        embedding = self.encoder(x)
        return self.head(embedding), embedding


class Students(nn.Module):
    """One or more student networks run side by side (two for Co-teaching).

    ``forward`` returns logits ``(n, m, n_classes)`` and embeddings
    ``(n, m, d)`` for ``m`` networks, so that batches concatenate on dim 0.
    """

    def __init__(self, networks):
        super().__init__()
        self.networks = nn.ModuleList(networks)

    def forward(self, x):
        outputs = [network(x) for network in self.networks]
        logits = torch.stack([out[0] for out in outputs], dim=1)
        embeddings = torch.stack([out[1] for out in outputs], dim=1)
        return logits, embeddings


def mean_softmax(logits):
    """Class probabilities averaged over the student networks."""
    return torch.softmax(logits.float(), dim=-1).mean(dim=1)

