"""If-Match: which headers name the version a client read, and the two problems."""

import pytest

from servicekit.preconditions import (
    PreconditionFailed,
    PreconditionRequired,
    entity_tag,
    require_match,
)


@pytest.mark.parametrize("header", ['"7"', ' "3", "7" ', 'W/"7", "7"'])
def test_if_match_that_names_the_current_tag_passes(header: str) -> None:
    require_match(header, entity_tag(7))


@pytest.mark.parametrize("header", [None, "", "  ", "*"])
def test_if_match_missing_or_naming_no_version_is_required(header: str | None) -> None:
    with pytest.raises(PreconditionRequired) as raised:
        require_match(header, entity_tag(7))
    assert raised.value.status == 428


@pytest.mark.parametrize("header", ['"6"', "7", '"07"', 'W/"7"', "garbage"])
def test_if_match_naming_another_version_fails(header: str) -> None:
    with pytest.raises(PreconditionFailed) as raised:
        require_match(header, entity_tag(7))
    assert raised.value.status == 412
    assert raised.value.extensions == {"current_etag": '"7"'}
