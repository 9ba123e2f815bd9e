"""The .dockerignore matcher follows Docker's documented semantics (moby's patternmatcher)."""

from __future__ import annotations

import pytest

from flashctl.dockerignore import parse


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        ("data", "data", True),
        ("data", "data/big.bin", True),  # a folder's pattern covers what it holds
        ("data", "app/data", False),  # anchored at the folder of .dockerignore
        ("/data", "data/x", True),  # a leading / is dropped
        ("*.md", "README.md", True),
        ("*.md", "docs/guide.md", False),  # * never crosses a /
        ("*/*.md", "docs/guide.md", True),
        ("**/*.md", "docs/deep/guide.md", True),
        ("**/*.md", "guide.md", True),  # ** matches zero folders too
        ("docs/**", "docs/a/b.txt", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("temp?", "temp1", True),
        ("temp?", "temp12", False),
        ("temp?", "temp/", False),
        ("[abc].txt", "b.txt", True),
        ("[abc].txt", "d.txt", False),
        ("[!abc].txt", "d.txt", True),
        ("\\*.txt", "*.txt", True),
        ("\\*.txt", "a.txt", False),
        ("a/../b", "b", True),  # cleaned like a path
        ("  spaced  ", "spaced", True),
        ("# comment", "# comment", False),
        ("file.txt", "file.txt.bak", False),
        ("*.log\n!keep.log", "keep.log", False),
        ("*.log\n!keep.log", "other.log", True),
        ("!keep.log\n*.log", "keep.log", True),  # the last matching pattern decides
        ("data\n!data/labels.txt", "data/labels.txt", False),
        ("data\n!data/labels.txt", "data/big.bin", True),
        ("*\n!app.py", "app.py", False),
        ("*\n!app.py", "lib/x.py", True),
    ],
)
def test_a_pattern_matches_as_docker_matches_it(patterns, path, excluded):
    assert parse(patterns).excluded(path) is excluded


def test_a_bom_and_blank_lines_are_ignored():
    rules = parse("\ufeffsecret.txt\n\n\n")
    assert rules.excluded("secret.txt") and len(rules.patterns) == 1


def test_a_malformed_class_is_taken_literally_rather_than_failing():
    assert parse("[abc").excluded("[abc")


@pytest.mark.parametrize(
    ("patterns", "folder", "walked"),
    [
        ("data\n!data/labels.txt", "data", True),
        ("data\n!data/labels.txt", ".git", False),
        ("data\n!data/sub/*.txt", "data/sub", True),
        ("**/.git\n!**/keep", ".git", True),
        ("data", "data", False),
    ],
)
def test_an_excluded_folder_is_walked_only_if_an_exception_may_match_inside(
    patterns, folder, walked
):
    assert parse(patterns).may_take_back(folder) is walked
