"""ReviewTarget: strict PR numbers and GitHub's repository naming rules."""

from typing import Any

import pytest
from pydantic import ValidationError

from shared.models import ReviewTarget, is_github_repository


@pytest.mark.parametrize("number", [1.9, 2.0, True, "7", 1e30, 0, 2**31, None])
def test_a_github_pr_number_is_a_plain_int_in_range(number: Any) -> None:
    with pytest.raises(ValidationError):
        ReviewTarget(provider="github", repository="a/b", pr_number=number)


@pytest.mark.parametrize("installation_id", [1.0, True, "3", 0])
def test_an_installation_id_is_a_plain_positive_int(installation_id: Any) -> None:
    with pytest.raises(ValidationError):
        ReviewTarget(
            provider="github", repository="a/b", pr_number=1, installation_id=installation_id
        )


def test_json_process_variables_still_validate() -> None:
    target = ReviewTarget.model_validate_json(
        '{"provider": "github", "repository": "a/b", "pr_number": 2147483647, '
        '"installation_id": 9000000000}'
    )
    assert (target.pr_number, target.installation_id) == (2**31 - 1, 9_000_000_000)


@pytest.mark.parametrize(
    "repository",
    ["a/..", "a/.", "-a/b", "a-/b", "a" * 40 + "/b", "a/" + "b" * 101, "a_b/c", "a/b/c", "a/b\n"],
)
def test_github_repositories_follow_githubs_naming_rules(repository: str) -> None:
    assert not is_github_repository(repository)
    with pytest.raises(ValidationError, match="owner/name"):
        ReviewTarget(provider="github", repository=repository, pr_number=1)


@pytest.mark.parametrize(
    "repository", ["a/b", "a-b/.github", "A1/x_y.z-", "a" * 39 + "/...", "a/b-"]
)
def test_valid_github_repositories_are_accepted(repository: str) -> None:
    assert is_github_repository(repository)
    assert ReviewTarget(provider="github", repository=repository, pr_number=1).pr_number == 1
