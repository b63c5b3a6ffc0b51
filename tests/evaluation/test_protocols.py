"""Leave-one-subject-out splitter."""

from __future__ import annotations

import pytest

from featref.errors import ConfigError
from featref.evaluation.protocols import LeaveOneSubjectOut


def test_one_fold_per_subject_in_sorted_order():
    ids = ["a/1/x", "a/1/y", "b/2/x", "a/3/x"]
    subjects = ["a/1", "a/1", "b/2", "a/3"]
    folds = list(LeaveOneSubjectOut().split(ids, subjects))
    assert [f.test_subject for f in folds] == ["a/1", "a/3", "b/2"]
    assert [f.index for f in folds] == [0, 1, 2]
    assert folds[0].test_ids == ("a/1/x", "a/1/y")
    for f in folds:
        assert not set(f.train_ids) & set(f.test_ids)
        assert set(f.train_ids) | set(f.test_ids) == set(ids)
    assert LeaveOneSubjectOut().get_n_splits(subjects) == 3


def test_needs_two_subjects():
    with pytest.raises(ConfigError, match="at least two subjects"):
        list(LeaveOneSubjectOut().split(["a", "b"], ["s", "s"]))
    with pytest.raises(ConfigError, match="differ in length"):
        list(LeaveOneSubjectOut().split(["a"], ["s", "t"]))
