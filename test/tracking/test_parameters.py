"""The node's parameter set (shared with the bag tool)."""

from __future__ import annotations

import pytest

from lgd_ros.tracking.errors import ParameterError
from lgd_ros.tracking.parameters import FitParameters, pipeline_config


def test_zero_and_empty_mean_the_defaults() -> None:
    config = pipeline_config(FitParameters())
    assert config.weights is None and config.body_model_path is None
    assert config.steps is None and config.warm_steps is None
    config = pipeline_config(FitParameters(fit_steps=6, weights="w.pt", track_max_age_s=2))
    assert config.steps == 6 and config.weights == "w.pt" and config.tracker.max_age == 2


@pytest.mark.parametrize(("changes", "message"), [
    (dict(max_people=0), "max_people must be >= 1"),
    (dict(fit_steps=-1), "fit_steps must be >= 0"),
    (dict(publish_tf=1), "must be of type bool"),
    (dict(max_people=2.5), "must be of type int"),
    (dict(track_max_age_s="1"), "must be of type float"),
    (dict(diagnostics_period_s=0.0), "must be > 0"),
])
def test_bad_values_are_refused_with_their_name(changes: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        FitParameters(**changes)
