"""The compiler's behaviours that mutation testing of autograd/compiler/ found unpinned
(docs/mutation.md)."""
import subprocess
import sys

from autograd.compiler.trace import _op_fingerprint
from autograd.ops import Op

_RULES = """
from autograd.ops import Op
def make(k):
    return Op("t", 1, lambda a: a * k, lambda g, out, a: ((lambda t: t * 2.0)(g) + g * 0.5,), False, "{a}")
def make3(k):
    return Op("t", 1, lambda a: a * k, lambda g, out, a: ((lambda t: t * 3.0)(g) + g * 0.5,), False, "{a}")
"""


def _ops():
    space = {}
    exec(compile(_RULES, "rules.py", "exec"), space)
    return space["make"](2.0), space["make3"](2.0)


def test_an_operations_fingerprint_tells_rules_apart_by_their_constants():
    # same bytecode, another constant (here inside a nested function): another fingerprint,
    # so code cached for one rule is never used for the other
    a = Op("t", 1, lambda a: a * 2.0, lambda g, out, a: (g * 2.0,), False, "{a}")
    b = Op("t", 1, lambda a: a * 2.0, lambda g, out, a: (g * 3.0,), False, "{a}")
    assert _op_fingerprint(a) != _op_fingerprint(b)
    two, three = _ops()
    assert _op_fingerprint(two) != _op_fingerprint(three)


def test_an_operations_fingerprint_is_the_same_in_another_process():
    # nested code objects enter by their contents, not their repr (which holds an address)
    script = "import sys; exec(sys.argv[1]); from autograd.compiler.trace import _op_fingerprint; " \
             "print(_op_fingerprint(make(2.0)))"
    out = subprocess.run([sys.executable, "-c", script, _RULES], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _op_fingerprint(_ops()[0])
