"""``nodehost ext doctor``'s line on the ComfyUI base packages nodehost does not depend on (spandrel): it says
what a pack gets on this host, installed beside nodehost or not, never that a torchvision the host has is
missing."""

from __future__ import annotations

import pytest

from host.extensions import doctor

pytestmark = pytest.mark.timeout(30)


def test_a_left_out_package_the_host_lacks_is_not_provided(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "_version", lambda dist: None)
    [line] = doctor.left_out_lines()
    assert line.startswith("  not provided: spandrel (not a nodehost dependency: it needs a torchvision built")
    assert "which this host does not have" not in line


def test_a_left_out_package_installed_beside_nodehost_is_from_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(doctor, "_version", lambda dist: "0.4.2" if dist == "spandrel" else None)
    assert doctor.left_out_lines() == ["  from the host (installed beside nodehost): spandrel 0.4.2"]
