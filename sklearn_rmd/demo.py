"""Learning through noisy labels on the digits data set: what the package is for.

Run ``python -m sklearn_rmd.demo`` (or ``sklearn-rmd demo``). The script

1. loads scikit-learn's digits (8x8 images as 64 pixel columns) and splits
   them 70/30, stratified, with ``random_state=--seed``;
2. flips exactly ``--noise-rate`` of the *training* labels symmetrically
   (each flipped row gets any other class with equal chance) with
   :func:`sklearn_rmd.noise.make_noisy_labels`; the test labels stay clean;
3. in five stages, each announced as it starts and timed:

   1. a plain network on the *clean* training labels, the reference:
      ``RMDClassifier(base_loss='ce', relation_weight=0,
      init_from_teacher=False)``, the same encoder, head and training schedule
      as the full model with plain cross-entropy (no teacher, no relation
      term);
   2. the plain network on the noisy labels: what the noise costs;
   3. the full ``RMDClassifier()`` on the noisy labels: a self-supervised
      teacher first, then symmetric cross-entropy plus relation distillation;
   4. ``NoisyLabelDetector()`` on the noisy training labels, scored against
      the rows really flipped (:func:`sklearn_rmd.metrics.detection_report`);
   5. the plain network on the rows the detector keeps;

   each model inside ``make_pipeline(StandardScaler(), model)``, scored on
   the clean test labels;

4. prints each model's accuracy gap to the plain network on clean labels.

Options
-------
--noise-rate FLOAT
    Share of training labels flipped (default 0.4).
--seed INT
    Seed of the split, the label flips and the models (default 0).
--quick
    Two epochs per stage: a smoke run for tests, not a meaningful result.

Examples
--------
>>> from sklearn_rmd.demo import main
>>> results = main(["--quick"])  # doctest: +SKIP
"""

import argparse
import time
import warnings

REFERENCE = "plain network on the clean labels"
PLAIN = "plain network on the noisy labels"
RMD = "RMDClassifier on the noisy labels"
CLEANED = "plain network on the rows kept by the detector"
DETECTION = "detection"


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m sklearn_rmd.demo",
        description="Digits with noisy training labels: plain network vs RMDClassifier.",
    )
    parser.add_argument("--noise-rate", type=float, default=0.4,
                        help="share of training labels flipped symmetrically (default 0.4)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split, the flips and the models (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="two epochs per stage: a smoke run, not a real result")
    args = parser.parse_args(argv)
    if not 0 <= args.noise_rate < 1:
        parser.error(f"--noise-rate must be in [0, 1), got {args.noise_rate}")
    return args


def _stage(number, text):
    print(f"[{number}/5] {text}...", flush=True)
    return time.perf_counter()


def _fit_and_score(model, X_train, y_train, X_test, y_test, start):
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = model.score(X_test, y_test)
    print(f"      clean test accuracy {accuracy:.3f}   ({seconds:.1f} s)", flush=True)
    return accuracy, seconds


def main(argv=None):
    """Run the demo; return what it printed, as numbers.

    Parameters
    ----------
    argv : list of str or None (default=None)
      Command-line arguments; None reads ``sys.argv``.

    Returns
    -------
    results : dict
      ``{model: (clean_test_accuracy, fit_seconds)}`` for
      :data:`REFERENCE`, :data:`PLAIN`, :data:`RMD` and :data:`CLEANED`,
      and under :data:`DETECTION` the
      detector's :func:`~sklearn_rmd.metrics.detection_report` against the
      flipped rows, with ``seconds`` and the estimated ``noise_rate``.
    """
    args = _parse_args(argv)
    print("Loading PyTorch and scikit-learn...", flush=True)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .classifier import RMDClassifier
    from .detector import NoisyLabelDetector
    from .metrics import detection_report
    from .noise import make_noisy_labels

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=args.seed)
    y_noisy, flipped = make_noisy_labels(y_train, args.noise_rate, kind="symmetric",
                                         random_state=args.seed)
    epochs = dict(pretrain_epochs=2, max_epochs=2) if args.quick else {}

    print(f"Digits: {len(X_train)} training rows, {flipped.sum()} of their labels "
          f"({flipped.mean():.0%}) flipped at random; {len(X_test)} test rows with "
          "clean labels.")
    if args.quick:
        print("--quick: two epochs per stage, the numbers below mean nothing.")
    # One tiny fit first, so torch's one-off start-up cost lands in no timing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # too few rows for some options: irrelevant here
        RMDClassifier(pretrain_epochs=1, max_epochs=1, random_state=0).fit(X_train[:64],
                                                                           y_noisy[:64])

    def plain():
        return make_pipeline(StandardScaler(), RMDClassifier(
            base_loss="ce", relation_weight=0, init_from_teacher=False,
            random_state=args.seed, **epochs))

    results = {}
    start = _stage(1, "plain network (cross-entropy, no teacher) on the clean labels, "
                      "the reference")
    results[REFERENCE] = _fit_and_score(plain(), X_train, y_train, X_test, y_test, start)
    start = _stage(2, "the same plain network on the noisy labels")
    results[PLAIN] = _fit_and_score(plain(), X_train, y_noisy, X_test, y_test, start)
    start = _stage(3, "RMDClassifier (self-supervised teacher, then relation "
                      "distillation) on the noisy labels")
    model = make_pipeline(StandardScaler(), RMDClassifier(random_state=args.seed, **epochs))
    results[RMD] = _fit_and_score(model, X_train, y_noisy, X_test, y_test, start)

    start = _stage(4, "NoisyLabelDetector, looking for the flipped training labels")
    X_scaled = StandardScaler().fit_transform(X_train)
    detector = NoisyLabelDetector(
        RMDClassifier(**epochs) if args.quick else None, random_state=args.seed)
    flagged = detector.fit_predict(X_scaled, y_noisy)
    report = detection_report(flipped, flagged, detector.label_quality_)
    report.update(seconds=time.perf_counter() - start, noise_rate=detector.noise_rate_)
    results[DETECTION] = report
    print(f"      flagged {report['n_flagged']} rows ({report['seconds']:.1f} s): "
          f"precision {report['precision']:.3f}, recall {report['recall']:.3f}, "
          f"F1 {report['f1']:.3f} against the {report['n_true']} flipped; "
          f"estimated noise rate {detector.noise_rate_:.1%} (true {flipped.mean():.1%})",
          flush=True)

    start = _stage(5, "plain network on the rows the detector keeps")
    kept = ~flagged
    results[CLEANED] = _fit_and_score(plain(), X_train[kept], y_noisy[kept], X_test, y_test,
                                      start)

    base = results[REFERENCE][0]
    print()
    print(f"Clean test accuracy, and the gap to the {REFERENCE} ({base:.3f}):")
    for name in (PLAIN, RMD, CLEANED):
        print(f"  {name:<48} {results[name][0]:.3f} ({100 * (results[name][0] - base):+.1f} "
              "points)")
    return results


if __name__ == "__main__":
    main()
