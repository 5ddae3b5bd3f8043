"""The demos land on the tutorials' published numbers."""
from demos import gradient_descent


def test_gradient_descent_lands_on_the_tutorials_x():
    r = gradient_descent.run()
    assert f"{r['x']:.6f}" == "2.249965"
    assert abs(r["x"] - 2.25) < 1e-4  # near the true minimum at 9/4
