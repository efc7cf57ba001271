"""Train RMDClassifier on several GPUs (or CPU processes) with Hugging Face Accelerate.

Launch with, for example::

    accelerate launch --multi_gpu --num_processes 2 examples/accelerate_rmd.py
    accelerate launch --cpu --num_processes 2 examples/accelerate_rmd.py   # no GPU

Every process runs this whole script: each builds the same data, each trains on
its share of every epoch's batches (gradients averaged by DistributedDataParallel),
and each ends with the same fitted model. Print and save from the main process only.
Needs the optional extra: ``pip install '.[accelerate]'`` in the sklearn-rmd checkout.
"""

import argparse

import numpy as np
from accelerate import Accelerator
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from sklearn_rmd import RMDClassifier
from sklearn_rmd.noise import make_noisy_labels


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=4000)
    parser.add_argument("--pretrain-epochs", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--mixed-precision", default="no", choices=["no", "bf16", "fp16"])
    parser.add_argument("--save", default=None, help="pickle the fitted model here")
    args = parser.parse_args(argv)

    accelerator = Accelerator(mixed_precision=args.mixed_precision)
    X, y = make_classification(args.n_samples, 32, n_informative=16, n_classes=5,
                               random_state=0)
    X = X.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    y_noisy, _ = make_noisy_labels(y_train, 0.3, random_state=0)

    # random_state: every process must draw the same split and batch order (the
    # estimator also broadcasts its seed from the main process).
    clf = RMDClassifier(accelerator=accelerator, pretrain_epochs=args.pretrain_epochs,
                        max_epochs=args.max_epochs, random_state=0)
    clf.fit(X_train, y_noisy)
    accuracy = clf.score(X_test, y_test)  # the same in every process
    accelerator.print(f"{accelerator.num_processes} process(es) on {accelerator.device}: "
                      f"clean test accuracy {accuracy:.3f}, {len(clf.history_)} stage-2 epochs")
    if args.save and accelerator.is_main_process:
        import pickle

        clf.set_params(accelerator=None)  # loads where accelerate is not installed
        with open(args.save, "wb") as f:
            pickle.dump(clf, f)
    return accuracy


if __name__ == "__main__":
    main()
