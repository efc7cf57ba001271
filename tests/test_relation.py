"""The relation term: edge matching over the teacher's graph in the student's
output space, contrastive node matching, and what a fit does with them."""

import numpy as np
import pytest
import torch

from sklearn_rmd.losses import (RelationDistillationLoss, clean_probability, cross_entropy,
                                label_trust_weights, neighbor_consistency, node_matching,
                                pearson)


def chain_graph(n, k=2):
    """Row i's neighbours are the next k rows (cyclic), all with similarity 1."""
    indices = (np.arange(n)[:, None] + np.arange(1, k + 1)[None, :]) % n
    return indices, np.ones((n, k), dtype=np.float32)


# ------------------------------------------------------------------ edge term
def test_neighbor_consistency_is_cross_entropy_to_the_targets():
    logits = torch.randn(5, 3, requires_grad=True)
    targets = torch.softmax(torch.randn(5, 3), dim=1)
    expected = -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1)
    torch.testing.assert_close(neighbor_consistency(logits, targets), expected)


def test_neighbor_consistency_is_smallest_when_the_student_agrees():
    targets = torch.tensor([[0.9, 0.05, 0.05]])
    agree = neighbor_consistency(torch.log(targets), targets)
    disagree = neighbor_consistency(torch.log(targets.flip(1)), targets)
    assert agree.item() < disagree.item()


def test_neighbor_consistency_sends_no_gradient_into_the_targets():
    targets = torch.softmax(torch.randn(4, 3), dim=1).requires_grad_()
    logits = torch.randn(4, 3, requires_grad=True)
    neighbor_consistency(logits, targets).sum().backward()
    assert targets.grad is None and logits.grad.abs().sum() > 0


def edge_criterion(n=6, n_classes=3, relation_weight=1.0, **kwargs):
    return RelationDistillationLoss(cross_entropy, student_dim=4, n_classes=n_classes,
                                    graph=chain_graph(n), relation_weight=relation_weight,
                                    **kwargs)


def test_targets_come_only_from_rows_trained_on():
    loss = edge_criterion()
    targets = loss.neighbor_targets(torch.arange(6))
    has_target = targets.sum(dim=1) > 0
    assert not has_target.any()  # nothing trained yet
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]]).unsqueeze(1)
    loss(logits, torch.zeros(2, 1, 4), torch.tensor([0, 1]), index=torch.tensor([2, 3]))
    targets = loss.neighbor_targets(torch.arange(6))
    has_target = targets.sum(dim=1) > 0
    # Rows 0 (neighbours 1, 2), 1 (2, 3) and 2 (3, 4) have trained neighbours.
    assert has_target.tolist() == [True, True, True, False, False, False]
    proba = torch.softmax(logits[:, 0], dim=1)
    torch.testing.assert_close(targets[0], proba[0])          # only row 2 seen
    torch.testing.assert_close(targets[1], proba.mean(dim=0))  # rows 2 and 3, equal weight
    torch.testing.assert_close(targets[2], proba[1])


def test_held_out_rows_never_reach_a_target():
    loss = edge_criterion()
    logits = torch.randn(6, 1, 3)
    # Validation batches (training=False) leave the prediction table alone.
    loss(logits, torch.zeros(6, 1, 4), torch.zeros(6, dtype=torch.long),
         index=torch.arange(6), training=False)
    assert not loss.seen.any()


def test_edge_term_ramps_up_over_the_warmup_epochs():
    def edge_share(epoch):
        loss = edge_criterion(warmup_epochs=4)
        logits = torch.randn(6, 1, 3, generator=torch.Generator().manual_seed(0))
        y = torch.zeros(6, dtype=torch.long)
        loss(logits, torch.zeros(6, 1, 4), y, index=torch.arange(6))  # fills the table
        terms = loss(logits, torch.zeros(6, 1, 4), y, index=torch.arange(6), epoch=epoch)
        return (terms["loss"] - terms["base"]).item() / terms["edge"].item()
    assert [round(edge_share(e), 6) for e in (0, 1, 3, 7)] == [0.25, 0.5, 1.0, 1.0]


def test_terms_in_use():
    assert edge_criterion().terms == ("edge",)
    assert edge_criterion(relation_weight=0.0).terms == ()
    with pytest.raises(ValueError, match="needs the teacher's kNN graph"):
        RelationDistillationLoss(cross_entropy, 4, 3, relation_weight=1.0)


# ---------------------------------------------------------------- label trust
def test_label_trust_weights_follow_the_neighbours():
    targets = torch.tensor([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1]])
    y = torch.tensor([0, 1, 2])
    torch.testing.assert_close(label_trust_weights(targets, y, 1.0),
                               torch.tensor([1.0, 0.5, 1 / 6]))
    # A threshold of 0.5: a label backed half as much as the favourite keeps it all.
    torch.testing.assert_close(label_trust_weights(targets, y, 0.5),
                               torch.tensor([1.0, 1.0, 1 / 3]))
    # No trained neighbour yet (all-zero targets): the label keeps its full weight.
    torch.testing.assert_close(label_trust_weights(torch.zeros(2, 3), y[:2], 1.0),
                               torch.ones(2))


def test_label_trust_weighs_the_base_loss_once_the_warmup_is_over():
    def base(epoch, label_trust=1.0):
        loss = edge_criterion(warmup_epochs=2, label_trust=label_trust)
        # Every row predicted class 0 with certainty: the table backs label 0 only.
        confident = torch.tensor([[20.0, 0.0, 0.0]]).repeat(6, 1).unsqueeze(1)
        loss(confident, torch.zeros(6, 1, 4), torch.zeros(6, dtype=torch.long),
             index=torch.arange(6))
        logits = torch.zeros(6, 1, 3)
        y = torch.tensor([0, 0, 0, 1, 1, 1])  # the last three contradict their neighbours
        return loss(logits, torch.zeros(6, 1, 4), y, index=torch.arange(6),
                    epoch=epoch)["base"].item()
    plain = np.log(3)  # CE of uniform logits
    assert base(0) == pytest.approx(plain) and base(1) == pytest.approx(plain)
    assert base(2) == pytest.approx(plain / 2, rel=1e-4)  # three rows weigh ~0
    assert base(2, label_trust=0.0) == pytest.approx(plain)


def trusted_base(trust_self, recorded_rows, recorded_classes, y):
    """Base loss (CE of uniform logits, weighted by label trust) of rows 0-5 of
    a 6-row chain graph, after ``recorded_rows`` were predicted as
    ``recorded_classes`` with certainty."""
    loss = edge_criterion(label_trust=1.0, trust_self=trust_self)
    confident = 20.0 * torch.eye(3)[torch.tensor(recorded_classes)].unsqueeze(1)
    loss(confident, torch.zeros(len(recorded_rows), 1, 4), torch.tensor(recorded_classes),
         index=torch.tensor(recorded_rows))
    return loss(torch.zeros(6, 1, 3), torch.zeros(6, 1, 4), torch.tensor(y),
                index=torch.arange(6), epoch=1)["base"].item() / np.log(3)


def test_label_trust_self_lets_the_rows_own_prediction_back_its_label():
    # Row i's neighbours are rows i+1 and i+2. Row 3 predicted class 1, the
    # others class 0; rows 3, 4 and 5 are labelled 1. The neighbours of rows
    # 3, 4 and 5 contradict label 1; only row 3's own prediction backs it.
    args = [0, 1, 2, 3, 4, 5], [0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 1, 1]
    assert trusted_base(False, *args) == pytest.approx(3 / 6, abs=1e-3)
    assert trusted_base(True, *args) == pytest.approx(4 / 6, abs=1e-3)


def test_label_trust_self_gives_no_backing_before_a_row_is_trained_on():
    # Only rows 4 and 5 were predicted (class 0): rows 2 and 3, labelled 1,
    # are contradicted by them and have no prediction of their own yet.
    args = [4, 5], [0, 0], [0, 0, 1, 1, 0, 0]
    assert trusted_base(True, *args) == pytest.approx(trusted_base(False, *args))
    assert trusted_base(True, *args) == pytest.approx(4 / 6, abs=1e-3)


def test_label_trust_makes_a_fit_learn_the_true_class_of_flipped_rows(noisy_tabular, tabular):
    from conftest import fast

    X, y_noisy = noisy_tabular
    flipped = y_noisy != tabular[1]
    teacher = fast().build_teacher().fit(X)
    # CE, a weak edge term and many epochs: without trust the wrong labels get
    # memorised. The neighbours alone decide trust here (no label_trust_self, which
    # gives a memorised label its weight back).
    params = dict(teacher=teacher, n_neighbors=5, early_stopping=False, relation_warmup=2,
                  relation_weight=0.3, max_epochs=30, base_loss="ce", label_trust_self=False)
    on = fast(label_trust=1.0, **params).fit(X, y_noisy)
    off = fast(label_trust=0.0, **params).fit(X, y_noisy)

    def recovered(clf):
        return float(np.mean(clf.predict(X[flipped]) == tabular[1][flipped]))
    assert recovered(on) > recovered(off) + 0.1


@pytest.mark.parametrize("base_loss", ["sce", "coteaching"])
@pytest.mark.parametrize("label_trust_self", [True, False])
def test_the_classifier_hands_label_trust_self_to_its_criterion(tabular, base_loss,
                                                               label_trust_self):
    from conftest import fast
    from skorch.callbacks import Callback

    class RecordCriterion(Callback):
        def on_epoch_end(self, net, **kwargs):
            self.trust_self = net.criterion_.trust_self

    record = RecordCriterion()
    fast(base_loss=base_loss, label_trust_self=label_trust_self, callbacks=[record],
         max_epochs=1).fit(*tabular)
    assert record.trust_self is label_trust_self


# --------------------------------------------------------------- loss mixture
def test_clean_probability_separates_small_from_large_losses():
    rng = np.random.RandomState(0)
    losses = np.concatenate([rng.uniform(0.0, 0.3, 70), rng.uniform(2.0, 3.0, 30)])
    clean = clean_probability(losses)
    assert clean[:70].min() > 0.9 and clean[70:].max() < 0.1
    np.testing.assert_array_equal(clean_probability(np.full(5, 0.7)), np.ones(5))


def mixture_base(epoch, recorded_probability):
    """Base loss (CE of uniform logits) of rows 0-5 labelled 0, 1, 2, 0, 1, 2,
    weighted by the loss mixture, after every row was predicted with
    ``recorded_probability[i]`` on its label (the rest spread evenly)."""
    loss = edge_criterion(loss_mixture=True, warmup_epochs=1)
    p = torch.tensor(recorded_probability)
    y, index = torch.tensor([0, 1, 2, 0, 1, 2]), torch.arange(6)
    probs = ((1 - p) / 2)[:, None].repeat(1, 3)
    probs[index, y] = p
    logits = torch.log(probs).unsqueeze(1)
    loss(logits, torch.zeros(6, 1, 4), y, index=index, epoch=0)
    return loss, loss(torch.zeros(6, 1, 3), torch.zeros(6, 1, 4), y, index=index,
                      epoch=epoch)["base"].item() / np.log(3)


def test_loss_mixture_weighs_down_rows_whose_prediction_contradicts_their_label():
    backed = [0.99, 0.98, 0.97, 0.99, 0.02, 0.01]  # rows 4 and 5 contradict label 0
    loss, during_warmup = mixture_base(0, backed)
    assert during_warmup == pytest.approx(1.0)  # no weights before warmup_epochs
    loss, after = mixture_base(1, backed)
    assert after == pytest.approx(4 / 6, abs=0.02)
    assert loss.clean_weights[4:].max() < 0.05 < 0.95 < loss.clean_weights[:4].min()


def test_loss_mixture_is_refitted_once_per_epoch():
    loss, _ = mixture_base(1, [0.99, 0.98, 0.97, 0.99, 0.02, 0.01])
    fitted = loss.clean_weights.clone()
    loss.predictions.fill_(1 / 3)  # every later loss equal: a refit gives all ones
    torch.testing.assert_close(loss.mixture_weights(torch.arange(6), 1), fitted)
    torch.testing.assert_close(loss.mixture_weights(torch.arange(6), 2), torch.ones(6))


def test_the_classifier_hands_loss_mixture_to_its_criterion(tabular):
    from conftest import fast
    from skorch.callbacks import Callback

    class RecordCriterion(Callback):
        def on_epoch_end(self, net, **kwargs):
            self.weights = net.criterion_.clean_weights.clone()

    record = RecordCriterion()
    # Epoch 0 refits over no rows yet; epoch 1 over every training row.
    fast(loss_mixture=True, relation_warmup=0, callbacks=[record], max_epochs=2,
         early_stopping=False).fit(*tabular)
    assert record.weights.min() < 0.5 and record.weights.max() > 0.5


def test_loss_mixture_buffers_exist_only_when_it_is_on():
    assert not hasattr(edge_criterion(), "clean_weights")
    assert edge_criterion(loss_mixture=True).clean_weights.shape == (6,)


def record_batch(loss, logits, index):
    """Run ``loss`` on one training batch of single-network ``logits``."""
    logits = torch.as_tensor(logits).unsqueeze(1)
    loss(logits, torch.zeros(len(index), 1, 4), torch.zeros(len(index), dtype=torch.long),
         index=torch.as_tensor(index))


def test_target_momentum_keeps_a_temporal_ensemble_of_each_rows_predictions():
    first, second = torch.tensor([[3.0, 0.0, 0.0]]), torch.tensor([[0.0, 3.0, 0.0]])
    p_first, p_second = torch.softmax(first, 1)[0], torch.softmax(second, 1)[0]
    loss = edge_criterion(target_momentum=0.75)
    record_batch(loss, first, [2])
    torch.testing.assert_close(loss.predictions[2], p_first)  # first visit: as predicted
    record_batch(loss, second, [2])
    torch.testing.assert_close(loss.predictions[2], 0.75 * p_first + 0.25 * p_second)
    # Row 1's neighbours are rows 2 and 3: its target reads the ensemble.
    torch.testing.assert_close(loss.neighbor_targets(torch.tensor([1]))[0],
                               0.75 * p_first + 0.25 * p_second)


def test_without_target_momentum_the_table_holds_the_latest_prediction():
    loss = edge_criterion()
    record_batch(loss, [[3.0, 0.0, 0.0]], [2])
    record_batch(loss, [[0.0, 3.0, 0.0]], [2])
    torch.testing.assert_close(loss.predictions[2],
                               torch.softmax(torch.tensor([0.0, 3.0, 0.0]), 0))


def test_the_classifier_hands_target_momentum_to_its_criterion(tabular):
    from conftest import fast
    from skorch.callbacks import Callback

    class RecordCriterion(Callback):
        def on_train_begin(self, net, **kwargs):
            self.momentum = net.criterion_.target_momentum

    record = RecordCriterion()
    fast(target_momentum=0.6, callbacks=[record], max_epochs=1).fit(*tabular)
    assert record.momentum == 0.6


# ------------------------------------------------------------------ node term
def test_node_matching_rewards_each_row_matching_its_own_teacher_row():
    teacher = torch.randn(16, 8)
    matched = node_matching(teacher.clone(), teacher).mean()
    shuffled = node_matching(teacher[torch.randperm(16)], teacher).mean()
    near_zero = node_matching(1e-3 * torch.randn(16, 8), teacher).mean()
    assert matched < shuffled and matched < near_zero


def test_node_term_keeps_the_teacher_side_frozen():
    features = torch.randn(6, 5)
    loss = RelationDistillationLoss(cross_entropy, 4, 3, teacher_features=features,
                                    teacher_dim=5, relation_dim=7, relation_weight=1.0,
                                    edge_weight=0.0, node_weight=1.0)
    assert loss.terms == ("node",)
    trainable = {name for name, p in loss.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("node_student") for name in trainable)
    frozen = loss.node_teacher.weight.clone()
    embeddings = torch.randn(6, 1, 4, requires_grad=True)
    terms = loss(torch.randn(6, 1, 3), embeddings, torch.zeros(6, dtype=torch.long),
                 index=torch.arange(6))
    terms["loss"].backward()
    assert loss.node_teacher.weight.grad is None and torch.equal(loss.node_teacher.weight, frozen)
    assert embeddings.grad.abs().sum() > 0


def test_pearson_is_row_correlation():
    a, b = torch.randn(5, 7, dtype=torch.float64), torch.randn(4, 7, dtype=torch.float64)
    expected = np.corrcoef(a.numpy(), b.numpy())[:5, 5:]
    np.testing.assert_allclose(pearson(a, b).numpy(), expected, atol=1e-12)


def test_node_term_trains_each_student_row_onto_its_own_teacher_row():
    torch.manual_seed(0)
    teacher = torch.randn(32, 6)
    student = torch.randn(32, 10)  # a fixed student embedding, another space
    loss = RelationDistillationLoss(cross_entropy, 10, 3, teacher_features=teacher,
                                    teacher_dim=6, relation_dim=16, relation_weight=1.0,
                                    edge_weight=0.0, node_weight=1.0)
    optimizer = torch.optim.Adam(loss.parameters(), lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        loss.node_terms(student.unsqueeze(1), torch.arange(32), None).sum().backward()
        optimizer.step()
    with torch.no_grad():
        n_ts = pearson(loss.node_student[0](student), loss.node_teacher(teacher))
    off_diagonal = n_ts[~torch.eye(32, dtype=torch.bool)]
    assert n_ts.diagonal().mean() > off_diagonal.mean() + 0.5


# ------------------------------------------------------------ through a fit
@pytest.fixture(scope="module")
def noisy_tabular(tabular):
    from sklearn_rmd.noise import make_noisy_labels

    X, y = tabular
    y_noisy, _ = make_noisy_labels(y, 0.3, random_state=0)
    return X, y_noisy


def test_fit_makes_predictions_agree_across_the_teachers_edges(noisy_tabular, tabular):
    from conftest import fast
    from sklearn_rmd.graph import knn_graph

    X, y = noisy_tabular
    teacher = fast().build_teacher().fit(X)
    indices, _ = knn_graph(teacher.transform(X), 5)

    def agreement(clf):
        predicted = clf.predict(X)
        return float(np.mean(predicted[:, None] == predicted[indices]))

    # CE, which fits the wrong labels, unlike the noise-robust default SCE.
    params = dict(teacher=teacher, n_neighbors=5, early_stopping=False, relation_warmup=0,
                  max_epochs=10, base_loss="ce")
    on = fast(relation_weight=3.0, **params).fit(X, y)
    off = fast(relation_weight=0.0, **params).fit(X, y)
    # The student's relations match the teacher's: neighbours get one class.
    assert agreement(on) > agreement(off) + 0.03
    # ... and, with 30% of the labels wrong, the clean labels are learnt better.
    assert on.score(X, tabular[1]) > off.score(X, tabular[1])
    edge = on.history_[:, "train_edge"]
    assert edge[-1] < max(edge[1:])
