"""Losses: SimSiam, relation distillation (edge and node), robust base losses,
and the stage-2 criterion that combines them.

Base losses return one value per sample so that Co-teaching can select
(:mod:`sklearn_rmd.coteaching`).
"""

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .coteaching import coteaching_selection, forget_schedule


def simsiam_loss(p1, p2, z1, z2):
    """Symmetrised negative cosine similarity with stop-gradient on ``z``."""
    return -0.5 * (
        F.cosine_similarity(p1, z2.detach(), dim=-1).mean()
        + F.cosine_similarity(p2, z1.detach(), dim=-1).mean()
    )


class SimSiamLoss(nn.Module):
    """``simsiam_loss`` as a criterion module for skorch."""

    def forward(self, p1, p2, z1, z2):
        return simsiam_loss(p1, p2, z1, z2)


def _centred_unit(a):
    """Rows centred on their own mean over features, scaled to unit length."""
    return F.normalize(a - a.mean(dim=1, keepdim=True), dim=1)


def pearson(a, b):
    """Pearson correlation between every row of ``a`` and every row of ``b``.

    Each row is centred on its own mean over features and scaled to unit
    length, so the result is the cosine similarity of centred rows.
    """
    return _centred_unit(a) @ _centred_unit(b).T


def neighbor_consistency(logits, targets):
    """Edge matching in the student's output space, per sample.

    Cross-entropy of the student's class distribution against ``targets``,
    the similarity-weighted predictions of the row's neighbours in the
    teacher's graph: it is smallest when the student predicts alike for the
    rows the teacher relates, which memorising a wrong label breaks.

    Parameters
    ----------
    logits : tensor (n, n_classes)
      Student logits of the batch.

    targets : tensor (n, n_classes)
      Rows sum to 1; no gradient flows into them.

    Returns
    -------
    tensor (n,)
    """
    return -(targets.detach() * torch.log_softmax(logits, dim=-1)).sum(dim=-1)


def node_matching(student_nodes, teacher_nodes, temperature=0.1):
    """Node matching as a contrastive loss over the batch's ``N_ts``.

    ``N_ts = PCC(S, T)``: each student row must pick its own teacher row out
    of the batch (cross-entropy over the rows of ``N_ts / temperature``), so
    the diagonal is pushed above every off-diagonal entry of its row rather
    than the whole matrix towards the identity, which a near-zero ``N_ts``
    already scores well on.

    Returns
    -------
    tensor (n,)
      Per-sample loss.
    """
    relations = pearson(student_nodes, teacher_nodes) / temperature
    own = torch.arange(relations.shape[0], device=relations.device)
    return F.cross_entropy(relations, own, reduction="none")


def label_trust_weights(targets, y, threshold):
    """Per-sample weights of the base loss from predictions that back the labels.

    ``w = min(1, r / threshold)`` with ``r = targets[y] / max(targets)``, the
    neighbours' share on the given label relative to their top class: 1
    where they back the label at least ``threshold`` as much as their
    favourite, falling to 0 where they give it nothing.

    Parameters
    ----------
    targets : tensor (n, n_classes)
      Neighbour targets, as from ``RelationDistillationLoss.neighbor_targets``,
      or each row's own latest predicted class distribution.

    y : tensor (n,)
      Given (possibly noisy) labels.

    threshold : float in (0, 1]
      Share at and above which a label keeps its full weight.

    Returns
    -------
    tensor (n,)
      Detached weights in [0, 1]; 1 for rows whose targets are all zero (no
      trained neighbour yet).
    """
    with torch.no_grad():
        ratio = targets.gather(1, y.unsqueeze(1)).squeeze(1) / targets.max(dim=1).values
        return (ratio.nan_to_num(1.0) / threshold).clamp(max=1.0)


def clean_probability(losses):
    """Probability that each loss belongs to the lower of two Gaussians fitted to them.

    DivideMix's split (Li et al., ICLR 2020): under label noise the per-row
    losses of a network that has not yet memorised form a low mode (mostly
    right labels) and a high one (mostly wrong); the mixture's posterior of
    the low mode is each row's chance of a clean label. Losses are scaled to
    [0, 1] first.

    Parameters
    ----------
    losses : ndarray of shape (n,)
      Per-row losses, e.g. each row's cross-entropy on its given label.

    Returns
    -------
    ndarray of shape (n,)
      In [0, 1]; all ones when the losses are all equal.
    """
    from sklearn.mixture import GaussianMixture

    spread = np.ptp(losses) if len(losses) else 0.0
    if len(losses) < 2 or spread <= 0:
        return np.ones(len(losses))
    x = ((losses - losses.min()) / spread)[:, None]
    mixture = GaussianMixture(2, max_iter=10, tol=1e-2, reg_covar=5e-4, random_state=0).fit(x)
    return mixture.predict_proba(x)[:, mixture.means_[:, 0].argmin()]


def _given_label_probability(logits, y):
    return torch.softmax(logits, dim=-1).gather(1, y.unsqueeze(1)).squeeze(1)


def cross_entropy(logits, y):
    """Per-sample cross-entropy."""
    return F.cross_entropy(logits, y, reduction="none")


def generalized_cross_entropy(logits, y, q=0.7):
    """Per-sample GCE (Zhang & Sabuncu, 2018): ``(1 - p_y ** q) / q``."""
    p_y = _given_label_probability(logits, y).clamp_min(1e-7)
    return (1.0 - p_y.pow(q)) / q


def symmetric_cross_entropy(logits, y, alpha=0.1, beta=1.0):
    """Per-sample SCE (Wang et al., 2019): ``alpha * CE + beta * RCE``.

    RCE is the cross-entropy with prediction and one-hot label swapped,
    ``-sum_k p_k log q_k``, where ``log 0`` needs a finite value A. As in the
    authors' released code, the one-hot label is clamped to [1e-4, 1], so
    A = ln(1e-4) (natural log) and ``RCE = -ln(1e-4) * (1 - p_y)``. The paper's
    text states A = -4 instead; with the clamp, RCE weighs ln(1e4) / 4 times
    more for the same ``beta``.
    """
    p_y = _given_label_probability(logits, y)
    reverse = -math.log(1e-4) * (1.0 - p_y)
    return alpha * cross_entropy(logits, y) + beta * reverse


def base_loss_function(base_loss, gce_q=0.7, sce_alpha=0.1, sce_beta=1.0):
    """The per-sample loss ``(logits, y) -> losses`` that ``base_loss`` names.

    Parameters
    ----------
    base_loss : {'ce', 'gce', 'sce', 'coteaching'} or callable
      As ``RMDClassifier``'s parameter: a callable is returned as given;
      Co-teaching trains on cross-entropy.

    gce_q, sce_alpha, sce_beta : float (default=0.7, 0.1, 1.0)
      The GCE exponent and the SCE weights.

    Returns
    -------
    callable
    """
    if callable(base_loss):
        return base_loss
    if base_loss == "gce":
        return functools.partial(generalized_cross_entropy, q=gce_q)
    if base_loss == "sce":
        return functools.partial(symmetric_cross_entropy, alpha=sce_alpha, beta=sce_beta)
    return cross_entropy


class RelationDistillationLoss(nn.Module):
    """Stage-2 criterion: base loss plus the relation term, per network.

    ``L = L_base + relation_weight * (edge_weight * L_edge + node_weight * L_node)``

    * **Edge matching** distils the teacher's dataset-wide kNN graph into
      the student's relations in its output space
      (:func:`neighbor_consistency`): each row's target is the
      similarity-weighted class distribution the student last predicted
      for its teacher neighbours, kept in a table updated as batches pass.
      Only rows trained on so far count, so held-out rows never reach it.
    * **Node matching** (:func:`node_matching`) ties each row's student
      embedding to its own frozen teacher embedding among the batch's rows.
      The teacher side is fixed: a frozen random projection of the teacher
      features into the node space, so that training cannot flatten the
      teacher's relations; only the student's node layer learns.
    * **Label trust** (:func:`label_trust_weights`) uses the same neighbour
      targets once the warm-up is over: a row's base loss is weighted by how
      strongly its teacher neighbours back its given label, so a label they
      contradict loses its pull and the edge term relabels the row. With
      ``trust_self`` the student's own latest prediction for the row can
      back the label too (the larger weight counts), so a row in a region
      where the teacher's graph mixes classes keeps its label while the
      student agrees with it.

    Holds what only training needs (graph, prediction table, teacher
    features, node layers), so trimming the net for prediction drops it.

    Parameters
    ----------
    base_loss : callable
      ``base_loss(logits, y) -> per-sample loss``.

    student_dim : int
      Embedding size of each student network.

    n_classes : int
      Number of classes (width of the prediction table).

    n_networks : int (default=1)
      1, or 2 for Co-teaching.

    graph : (indices, similarities) or None (default=None)
      The teacher's kNN graph over the fit's rows, as returned by
      :func:`sklearn_rmd.graph.knn_graph`; needed for the edge term.

    teacher_features : tensor (n_samples, d_t) or None (default=None)
      Precomputed teacher embeddings for the node term, looked up by index.

    teacher_encoder : nn.Module or None (default=None)
      Frozen teacher run on the student's batch view (online node features).

    teacher_dim : int or None (default=None)
      Teacher embedding size; needed for the node term.

    relation_dim : int (default=128)
      Size of the node space.

    relation_weight, edge_weight, node_weight : float (default=1.0, 1.0, 0.0)
      Weights of the relation term and of its two parts.

    temperature : float (default=0.1)
      Temperature of the node term and of the neighbour weights
      ``exp((similarity - 1) / temperature)``.

    warmup_epochs : int (default=0)
      The relation term is scaled by ``min((epoch + 1) / warmup_epochs, 1)``;
      0 applies it fully from the start.

    label_trust : float in [0, 1] (default=0.0)
      Threshold of :func:`label_trust_weights`, applied from epoch
      ``warmup_epochs`` on (the prediction table needs the warm-up to fill);
      0 turns it off. Needs the edge term.

    trust_self : bool (default=False)
      Weigh each row by the larger of its neighbours' and its own latest
      prediction's backing of its label (both through
      :func:`label_trust_weights`).

    target_momentum : float in [0, 1) (default=0.0)
      Momentum of the prediction table: a row's entry becomes
      ``m * old + (1 - m) * new`` each time the row is trained on (its
      first prediction is kept as it is), a temporal ensemble of its
      predictions; 0 keeps the latest prediction.

    loss_mixture : bool (default=False)
      From epoch ``warmup_epochs`` on, also weigh each row's base loss by
      :func:`clean_probability` of the cross-entropy of its latest
      prediction on its given label, refitted once per epoch over the rows
      trained on so far (a product with label trust when both apply). Needs
      the edge term (its prediction table). Under DistributedDataParallel
      each process fits it to the rows it has trained on.

    forget_rate : float (default=0.0)
      Co-teaching's final share of large-loss samples dropped per batch.

    forget_epochs : int (default=10)
      Epochs over which the forget rate ramps up from 0.
    """

    def __init__(self, base_loss, student_dim, n_classes, n_networks=1, graph=None,
                 teacher_features=None, teacher_encoder=None, teacher_dim=None,
                 relation_dim=128, relation_weight=1.0, edge_weight=1.0, node_weight=0.0,
                 temperature=0.1, warmup_epochs=0, label_trust=0.0, trust_self=False,
                 target_momentum=0.0, loss_mixture=False, forget_rate=0.0, forget_epochs=10):
        super().__init__()
        self.warmup_epochs = warmup_epochs
        self.target_momentum = target_momentum
        self.label_trust = label_trust
        self.trust_self = trust_self
        self.loss_mixture = loss_mixture
        self._mixture_epoch = None
        self.base_loss = base_loss
        self.relation_weight = relation_weight
        self.edge_weight = edge_weight
        self.node_weight = node_weight
        self.temperature = temperature
        self.forget_rate = forget_rate
        self.forget_epochs = forget_epochs
        ignored = []
        if self.uses("edge"):
            if graph is None:
                raise ValueError("The edge term needs the teacher's kNN graph (graph=...).")
            indices, similarities = (torch.as_tensor(a) for a in graph)
            n_samples = indices.shape[0]
            self.register_buffer("neighbors", indices.long())
            self.register_buffer("neighbor_weights",
                                 torch.exp((similarities.float() - 1.0) / temperature))
            # Each row's latest predicted class distribution, and whether the
            # row has been trained on yet in this fit.
            self.register_buffer("predictions", torch.zeros(n_samples, n_classes))
            self.register_buffer("seen", torch.zeros(n_samples, dtype=torch.bool))
            ignored += ["neighbors", "neighbor_weights", "predictions", "seen"]
            if loss_mixture:
                # Each row's given label, and its clean probability.
                self.register_buffer("labels", torch.zeros(n_samples, dtype=torch.long))
                self.register_buffer("clean_weights", torch.ones(n_samples))
                ignored += ["labels", "clean_weights"]
        self.register_buffer("teacher_features", teacher_features)
        self.teacher_encoder = teacher_encoder
        self.node_student = nn.ModuleList()
        self.node_teacher = None
        if self.uses("node"):
            if teacher_features is None and teacher_encoder is None:
                raise ValueError("The node term needs teacher_features or teacher_encoder.")
            self.node_teacher = nn.Linear(teacher_dim, relation_dim, bias=False)
            self.node_teacher.requires_grad_(False)
            self.node_student.extend(nn.Linear(student_dim, relation_dim)
                                     for _ in range(n_networks))
            ignored += ["teacher_features"] + [f"node_teacher.{name}" for name, _ in
                                               self.node_teacher.named_parameters()]
        if teacher_encoder is not None:
            teacher_encoder.requires_grad_(False)
            ignored += [f"teacher_encoder.{name}" for name, _ in
                        list(teacher_encoder.named_parameters())
                        + list(teacher_encoder.named_buffers())]
        # The teacher side is the same on every process (computed before
        # stage 2): DistributedDataParallel must not broadcast it every step.
        self._ddp_params_and_buffers_to_ignore = ignored

    def uses(self, term):
        """Whether ``term`` ('edge' or 'node') contributes to the loss."""
        weight = self.edge_weight if term == "edge" else self.node_weight
        return self.relation_weight > 0 and weight > 0

    @property
    def terms(self):
        """The relation terms in use, e.g. ``('edge',)``."""
        return tuple(term for term in ("edge", "node") if self.uses(term))

    def train(self, mode=True):
        super().train(mode)
        if self.teacher_encoder is not None:
            # The teacher is frozen: its batch-norm statistics must not move.
            self.teacher_encoder.eval()
        return self

    def teacher_batch(self, index, view):
        """Teacher features of a batch, looked up or computed on ``view``."""
        if self.teacher_encoder is not None:
            with torch.no_grad():
                return self.teacher_encoder(view).float()
        return self.teacher_features[index]

    def neighbor_targets(self, index):
        """Similarity-weighted predictions of each row's teacher neighbours.

        Returns ``targets`` (n, n_classes): rows sum to 1 once one of the
        row's neighbours has been trained on, and are all zero before.
        """
        # index_select: much cheaper than advanced indexing per step on the CPU.
        neighbors = self.neighbors.index_select(0, index)
        flat = neighbors.reshape(-1)
        weights = (self.neighbor_weights.index_select(0, index)
                   * self.seen.index_select(0, flat).view_as(neighbors))
        total = weights.sum(dim=1, keepdim=True)
        predictions = self.predictions.index_select(0, flat).view(*neighbors.shape, -1)
        targets = torch.bmm(weights.unsqueeze(1), predictions).squeeze(1)
        return targets / total.clamp_min(1e-12)

    def trusts(self, epoch, training):
        """Whether label trust weighs the base loss at this epoch."""
        return (training and self.label_trust > 0 and self.uses("edge")
                and epoch >= self.warmup_epochs)

    def mixes(self, epoch, training):
        """Whether the loss mixture weighs the base loss at this epoch.

        Parameters
        ----------
        epoch : int
          The epoch, from 0.

        training : bool
          Whether the batch is a training batch.

        Returns
        -------
        bool
        """
        return (training and self.loss_mixture and self.uses("edge")
                and epoch >= self.warmup_epochs)

    def mixture_weights(self, index, epoch):
        """Clean probability of each row of the batch (see ``loss_mixture``).

        The mixture is refitted at the first batch of each epoch, over the
        rows trained on so far; a row not trained on yet keeps weight 1.

        Parameters
        ----------
        index : tensor (n,)
          Row indices of the batch in the fit's rows.

        epoch : int
          The epoch, from 0.

        Returns
        -------
        tensor (n,)
          :func:`clean_probability` of each row's latest loss on its label.
        """
        if self._mixture_epoch != epoch:
            seen = self.seen.nonzero().squeeze(1)
            given = self.predictions[seen, self.labels[seen]]
            losses = -torch.log(given.clamp_min(1e-12)).cpu().double().numpy()
            self.clean_weights[seen] = torch.as_tensor(
                clean_probability(losses), dtype=self.clean_weights.dtype,
                device=self.clean_weights.device)
            self._mixture_epoch = epoch
        return self.clean_weights.index_select(0, index)

    def trust_weights(self, index, y, targets):
        """Label-trust weight of each row of the batch.

        Parameters
        ----------
        index : tensor (n,)
          Row indices of the batch in the fit's rows.

        y : tensor (n,)
          Given labels of the batch.

        targets : tensor (n, n_classes)
          The batch's neighbour targets (:meth:`neighbor_targets`).

        Returns
        -------
        tensor (n,)
          How strongly the neighbours back each row's label (see
          :func:`label_trust_weights`); with ``trust_self`` the larger of
          that and how strongly the row's own latest prediction backs it.
        """
        # A row without a trained neighbour has all-zero targets: weight 1.
        weights = label_trust_weights(targets, y, self.label_trust)
        if self.trust_self:
            # A row not trained on yet has no prediction to back its label.
            own = label_trust_weights(self.predictions.index_select(0, index), y,
                                      self.label_trust) * self.seen.index_select(0, index)
            weights = torch.maximum(weights, own)
        return weights

    def base_terms(self, logits, y, epoch, training, targets, index):
        """Mean base loss of each network (Co-teaching exchanges samples),
        weighted by label trust (:meth:`trust_weights`, from the batch's
        neighbour ``targets`` and row ``index``) when it applies."""
        per_sample = [self.base_loss(logits[:, i], y) for i in range(logits.shape[1])]
        weights = None
        if self.trusts(epoch, training):
            weights = self.trust_weights(index, y, targets)
        if self.mixes(epoch, training):
            clean = self.mixture_weights(index, epoch)
            weights = clean if weights is None else weights * clean
        if weights is not None:
            per_sample = [loss * weights for loss in per_sample]
        if len(per_sample) == 2 and training:
            rate = forget_schedule(self.forget_rate, epoch, self.forget_epochs)
            keep_a, keep_b = coteaching_selection(per_sample[0], per_sample[1], rate)
            return [per_sample[0][keep_b].mean(), per_sample[1][keep_a].mean()]
        return [loss.mean() for loss in per_sample]

    def edge_terms(self, logits, index, targets, y=None):
        """Edge term of each network against the batch's neighbour ``targets``;
        records the batch's predictions in the table (see ``target_momentum``)
        and, for the loss mixture, its labels ``y``."""
        # Rows without a trained neighbour have all-zero targets and add 0.
        edges = [neighbor_consistency(logits[:, i], targets).sum() / max(len(index), 1)
                 for i in range(logits.shape[1])]
        with torch.no_grad():
            latest = torch.softmax(logits.float(), dim=-1).mean(dim=1)
            if self.target_momentum > 0:
                momentum = self.target_momentum * self.seen.index_select(0, index).unsqueeze(1)
                latest = (momentum * self.predictions.index_select(0, index)
                          + (1.0 - momentum) * latest)
            self.predictions.index_copy_(0, index, latest)
            if self.loss_mixture:
                self.labels.index_copy_(0, index, y)
            self.seen.index_fill_(0, index, True)
        return torch.stack(edges)

    def node_terms(self, embeddings, index, view):
        """Node term of each network."""
        teacher = self.node_teacher(self.teacher_batch(index, view))
        return torch.stack([
            node_matching(node_s(embeddings[:, i]), teacher, self.temperature).mean()
            for i, node_s in enumerate(self.node_student)
        ])

    def forward(self, logits, embeddings, y, index=None, view=None, epoch=0, training=True):
        """Return a dict with the total ``loss``, its ``base`` term and the relation terms in use."""
        # Read before the edge term records this batch's predictions.
        targets = self.neighbor_targets(index) if training and self.uses("edge") else None
        base = self.base_terms(logits, y, epoch, training, targets, index)
        terms = {"base": torch.stack(base).mean()}
        total = torch.stack(base).sum()
        if training:
            for term in self.terms:
                values = (self.edge_terms(logits, index, targets, y) if term == "edge"
                          else self.node_terms(embeddings, index, view))
                weight = self.edge_weight if term == "edge" else self.node_weight
                if self.warmup_epochs > 0:
                    weight = weight * min(1.0, (epoch + 1) / self.warmup_epochs)
                total = total + self.relation_weight * weight * values.sum()
                terms[term] = values.mean()
        terms["loss"] = total
        return terms
