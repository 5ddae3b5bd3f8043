"""The notebooks' kernels import this checkout's autograd and nn (they start in this folder,
and a shared Python may have another checkout installed)."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["PYTHONPATH"] = os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])
