"""Where the API key comes from, and that its record never shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from flashctl.errors import DeployError
from flashctl.runpod.credentials import load_credentials, parse_minimal_toml

KEY = "rpa_TESTKEY000111222333"


def write_config(home: Path, text: str) -> Path:
    path = home / ".runpod" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_environment_variable_wins_over_the_config_file(
    monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    write_config(isolated_environment, '[default]\napi_key = "from-file"\n')
    monkeypatch.setenv("RUNPOD_API_KEY", f"  {KEY}\n")

    credentials = load_credentials()

    assert credentials.api_key == KEY
    assert credentials.source == "RUNPOD_API_KEY"


def test_runpod_python_config_form_is_read(isolated_environment: Path) -> None:
    path = write_config(
        isolated_environment, f'# written by runpod\n[default]\napi_key = "{KEY}"\n'
    )

    credentials = load_credentials()

    assert credentials.api_key == KEY
    assert credentials.source == f"{path} ([default] api_key)"


def test_runpodctl_top_level_apikey_is_read(isolated_environment: Path) -> None:
    path = write_config(
        isolated_environment, f'apikey = "{KEY}"\napiurl = "https://api.runpod.io/graphql"\n'
    )

    credentials = load_credentials()

    assert credentials.api_key == KEY
    assert credentials.source == f"{path} (apikey)"


def test_missing_key_says_how_to_set_one(isolated_environment: Path) -> None:
    with pytest.raises(DeployError) as raised:
        load_credentials()

    assert "RUNPOD_API_KEY" in str(raised.value)
    assert "~/.runpod/config.toml" in str(raised.value)
    assert raised.value.exit_code == 1


def test_config_file_without_a_key_is_named(isolated_environment: Path) -> None:
    path = write_config(isolated_environment, '[default]\nprofile = "x"\n')

    with pytest.raises(DeployError, match="has no API key") as raised:
        load_credentials()

    assert str(path) in str(raised.value)


def test_invalid_toml_is_reported_without_its_content(isolated_environment: Path) -> None:
    write_config(isolated_environment, f'apikey = "{KEY}\n[oops\n')

    with pytest.raises(DeployError, match="not valid TOML") as raised:
        load_credentials()

    assert KEY not in str(raised.value)


def test_repr_and_str_never_show_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", KEY)

    credentials = load_credentials()

    assert KEY not in repr(credentials)
    assert KEY not in str(credentials)
    assert "RUNPOD_API_KEY" in repr(credentials)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'[default]\napi_key = "{KEY}"\n', {"default": {"api_key": KEY}}),
        (f"apikey = '{KEY}' # runpodctl\n", {"apikey": KEY}),
        (f'apiKey="{KEY}"\n\n[default]\n', {"apiKey": KEY, "default": {}}),
    ],
)
def test_minimal_reader_for_python_3_10_handles_both_forms(
    text: str, expected: dict[str, object]
) -> None:
    assert parse_minimal_toml(text) == expected


def test_minimal_reader_rejects_an_unterminated_string() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_minimal_toml('apikey = "abc\n')


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (f"{KEY}\nX", "character 24 is a line break"),
        (f"{KEY}\rX", "character 24 is a line break"),
        (f"{KEY} X", "character 24 is a space"),
        (f"{KEY}\x7fX", "character 24 is a control character"),
        (f"{KEY}\u00e9", "character 24 is a non-ASCII character"),
        (f"{KEY}\u20ac", "character 24 is a non-ASCII character"),
        (f"{KEY}@x", "character 24 is a character a bearer token cannot hold"),
        (f"{KEY}=x", "character 25 follows an = sign, which may only end a key"),
    ],
)
def test_a_key_that_cannot_be_a_bearer_token_is_refused_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, isolated_environment: Path, key: str, why: str
) -> None:
    monkeypatch.setenv("RUNPOD_API_KEY", key)

    with pytest.raises(DeployError) as raised:
        load_credentials()

    message = str(raised.value)
    assert message.startswith(f"The RunPod API key in RUNPOD_API_KEY is malformed: {why}.")
    assert KEY not in message


def test_keys_of_every_bearer_token_character_are_accepted(
    monkeypatch: pytest.MonkeyPatch, isolated_environment: Path
) -> None:
    key = "rpa_AZaz09-._~+/=="
    monkeypatch.setenv("RUNPOD_API_KEY", key)

    assert load_credentials().api_key == key
