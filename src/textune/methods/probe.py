"""Linear probe: the encoder stays frozen; only the logistic-regression head is fitted.

The honest baseline every report shows: seconds to train, and what contrastive training has
to beat.
"""

from __future__ import annotations

from ..data import Examples
from ..encoder import Encoder


class Probe:
    name = "probe"
    trains_body = False

    def train(self, encoder: Encoder, ex: Examples, **params) -> dict:
        return {}
