"""The new packages and the init templates are listed in setup.cfg, so the wheel ships them."""

from __future__ import annotations

import configparser
import glob

from tests.conftest import ROOT

NEW_PACKAGES = ("flashctl.loadtest", "flashctl.scaffold", "flashctl.import_flash")


def setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def test_wheel_ships_the_new_packages_and_init_templates():
    config = setup_cfg()
    packages = config["options"]["packages"].split()
    assert [p for p in NEW_PACKAGES if p not in packages] == []
    patterns = [
        p.strip()
        for p in config["options.package_data"]["flashctl.templates"].split(",")
        if p.strip()
    ]
    root = ROOT / "templates"
    shipped = {
        path for pattern in patterns for path in glob.glob(pattern, root_dir=root, recursive=True)
    }
    wanted = {f"init/{p.name}" for p in (root / "init").iterdir() if p.is_file()}
    assert wanted - shipped == set()
