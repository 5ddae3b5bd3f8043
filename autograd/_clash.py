"""HIPS autograd and valuegrad both install a package named `autograd`: find out when they share a folder.

pip installs valuegrad's `autograd/` over HIPS autograd's (a dependency of lifelines and
others) without a word, and uninstalling either then breaks the other. A wheel runs no code
when it is installed and Python's packaging metadata has no "conflicts with" that pip honours,
so the check happens at import: `import autograd` (valuegrad's) warns when a distribution
named autograd owns files in the same folder, and `import nn` explains, instead of a bare
ImportError, when HIPS's `autograd/__init__.py` has replaced valuegrad's. The check reads one
directory listing, so it costs next to nothing when there is no clash.

    >>> import autograd._clash as clash
    >>> clash.clashing_distributions()   # this checkout has none
    []
"""
from __future__ import annotations

import csv
import importlib.metadata
import os
import pathlib
import re
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


class PackageClashWarning(UserWarning):
    """Another distribution (HIPS autograd) installed files into valuegrad's `autograd/` folder."""


def clashing_distributions(package_dir=HERE):
    """(name, version, folder) of each distribution other than valuegrad whose name is
    autograd (HIPS autograd, under any spelling) and which owns files in `package_dir`."""
    site, package = os.path.split(os.path.abspath(package_dir))
    try:
        entries = os.listdir(site)
    except OSError:
        return []
    found = []
    for entry in sorted(entries):
        if entry[:9].lower() != "autograd-" or not re.match(r"(?i)^autograd-[^-]+\.(dist|egg)-info$", entry):
            continue
        try:
            dist = importlib.metadata.PathDistribution(pathlib.Path(site, entry))
            name = dist.metadata["Name"] or ""
            owns = any(f.parts[:1] == (package,) for f in dist.files or ())
        except (OSError, ValueError, csv.Error):  # an unreadable record: not ours to judge
            continue
        if re.sub(r"[-_.]+", "-", name).lower() == "autograd" and owns:
            found.append((name, dist.version, site))
    return found


def message(name, version, site):
    return (f"valuegrad and HIPS autograd ({name} {version}) are installed in the same folder, "
            f"{site}, and both install a package named `autograd`: `import autograd` gives "
            f"valuegrad now, HIPS autograd (and what needs it, such as lifelines) is broken, and "
            f"uninstalling either one breaks the other. They cannot share an environment: give "
            f"valuegrad its own (python -m venv .venv). To repair this one: "
            f"pip uninstall -y valuegrad autograd, then pip install autograd (HIPS) or valuegrad.")


def warn_if_clashing():
    """Called by `autograd/__init__.py`: one PackageClashWarning per clashing distribution."""
    for name, version, site in clashing_distributions():
        warnings.warn(message(name, version, site), PackageClashWarning, stacklevel=3)


def require_valuegrad_autograd():
    """Called by `nn`: raise ImportError, saying why, when `autograd` is not valuegrad's
    (HIPS autograd was installed over it, replacing its `autograd/__init__.py`)."""
    import autograd
    if hasattr(autograd, "Value") and hasattr(autograd, "compile"):
        return
    found = clashing_distributions()
    name, version, site = found[0] if found else ("autograd", "?", os.path.dirname(HERE))
    raise ImportError(
        f"`import autograd` gives {autograd.__file__}, not valuegrad's engine: HIPS autograd "
        f"({name} {version}) was installed over valuegrad in {site} (both install a package named "
        f"`autograd`). They cannot share an environment: give valuegrad its own (python -m venv "
        f".venv). To repair this one: pip uninstall -y valuegrad autograd, then pip install "
        f"valuegrad (or autograd, for HIPS).")
