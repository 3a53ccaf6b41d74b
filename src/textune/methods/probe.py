"""Linear probe: the encoder stays frozen; only the logistic-regression head is fitted.

The honest baseline every report shows: seconds to train, and what contrastive training has
to beat.
"""

from __future__ import annotations

import numpy as np

from ..data import Examples


class Probe:
    name = "probe"
    trains_body = False

    def fit(self, clf, ex: Examples, y: np.ndarray):
        from ..embedding import fit_head, load_encoder

        if clf.peft:
            raise ValueError("--method probe trains no encoder weights, so it takes no --peft "
                             "adapter; use --method setfit --peft lora or --method peft.")
        encoder = load_encoder(clf, ex)
        return fit_head(encoder, ex, y, clf)
