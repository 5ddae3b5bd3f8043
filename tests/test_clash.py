"""HIPS autograd and valuegrad in one folder: valuegrad's `import autograd` warns, and `import nn`
explains when HIPS's `autograd/__init__.py` replaced valuegrad's. Checked on a site folder made
here: the real packages copied in, beside a dist-info that HIPS autograd's pip install writes."""
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from autograd import _clash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HIPS_FILES = ["autograd/__init__.py", "autograd/core.py", "autograd/numpy/__init__.py"]


def dist_info(site, folder, name, version, files):
    d = site / folder
    d.mkdir()
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (d / "RECORD").write_text("".join(f"{f},,\n" for f in files + [f"{folder}/METADATA", f"{folder}/RECORD"]))


def site_with_valuegrad(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    for pkg in ("autograd", "nn"):
        shutil.copytree(os.path.join(ROOT, pkg), site / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    dist_info(site, "valuegrad-0.1.0.dist-info", "valuegrad", "0.1.0", ["autograd/__init__.py", "nn/__init__.py"])
    return site


def test_no_clash_in_this_checkout_or_beside_valuegrad_alone(tmp_path):
    assert _clash.clashing_distributions() == []
    site = site_with_valuegrad(tmp_path)
    assert _clash.clashing_distributions(str(site / "autograd")) == []


@pytest.mark.parametrize("folder, name", [("autograd-1.7.0.dist-info", "autograd"),
                                          ("Autograd-1.7.0.dist-info", "Autograd"),
                                          ("autograd-1.7.0.egg-info", "autograd")])
def test_hips_dist_owning_files_in_the_folder_is_found(tmp_path, folder, name):
    site = site_with_valuegrad(tmp_path)
    dist_info(site, folder, name, "1.7.0", HIPS_FILES)
    assert _clash.clashing_distributions(str(site / "autograd")) == [(name, "1.7.0", str(site))]


def test_a_dist_named_autograd_elsewhere_or_owning_nothing_here_is_not_a_clash(tmp_path):
    site = site_with_valuegrad(tmp_path)
    dist_info(site, "autograd-1.7.0.dist-info", "autograd", "1.7.0", ["other_folder/__init__.py"])
    dist_info(site, "autograd_gamma-0.5.0.dist-info", "autograd-gamma", "0.5.0", HIPS_FILES)
    assert _clash.clashing_distributions(str(site / "autograd")) == []
    assert _clash.clashing_distributions(str(tmp_path / "missing" / "autograd")) == []


def run(site, code):
    env = dict(os.environ, PYTHONPATH=str(site), PYTHONWARNINGS="default")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=site.parent)


def test_valuegrad_installed_over_hips_warns_at_import_and_says_what_to_do(tmp_path):
    site = site_with_valuegrad(tmp_path)
    dist_info(site, "autograd-1.7.0.dist-info", "autograd", "1.7.0", HIPS_FILES)
    r = run(site, "import autograd, nn; print(autograd.__file__)")
    assert r.returncode == 0 and r.stdout.strip() == str(site / "autograd" / "__init__.py")
    assert r.stderr.count("PackageClashWarning") == 1
    assert f"HIPS autograd (autograd 1.7.0) are installed in the same folder, {site}" in r.stderr
    assert "pip uninstall -y valuegrad autograd" in r.stderr and "python -m venv" in r.stderr


def test_valuegrad_alone_imports_without_a_word(tmp_path):
    site = site_with_valuegrad(tmp_path)
    r = run(site, "import autograd, nn; print(autograd.__file__)")
    assert r.returncode == 0 and r.stdout.strip() == str(site / "autograd" / "__init__.py")
    assert r.stderr == ""


def test_hips_installed_over_valuegrad_makes_nn_explain(tmp_path):
    site = site_with_valuegrad(tmp_path)
    (site / "autograd" / "__init__.py").write_text(textwrap.dedent('''\
        # HIPS autograd's __init__ (in short): no Value, no compile
        def grad(fun):
            return fun
        '''))
    dist_info(site, "autograd-1.7.0.dist-info", "autograd", "1.7.0", HIPS_FILES)
    r = run(site, "import nn")
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ImportError: `import autograd` gives {site / 'autograd' / '__init__.py'}, "
                           f"not valuegrad's engine: HIPS autograd (autograd 1.7.0) was installed over "
                           f"valuegrad in {site}")
    assert "pip uninstall -y valuegrad autograd" in last
