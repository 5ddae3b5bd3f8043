"""nn.record: the training recorder (fit's callback methods, or by hand), its page and its GIF."""
import html
import json
import math
import re

import numpy as np
import pytest

from nn import MLP, losses, optim
from nn.data import make_moons
from nn.record import TrainingRecorder


def moons(n=40):
    X, y = make_moons(n, noise=0.1, random_state=0)
    return X, y


def train_by_hand(rec, steps=4, seed=0):
    X, y = moons()
    model = MLP(2, [6, 6, 1], seed=seed)
    opt = optim.SGD(model.parameters(), lr=0.1)
    grads = []
    for _ in range(steps):
        loss = losses.hinge(model(X), 2 * y - 1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        grads.append({f"layers.{i}": math.sqrt(sum(p.grad ** 2 for p in layer.parameters()))
                      for i, layer in enumerate(model.layers)})
        rec.record(model, loss=loss.data)
    return model, grads


def test_recording_by_hand_keeps_logs_norms_and_the_boundary():
    X, y = moons()
    rec = TrainingRecorder(X, y, unit="step", grid=10)
    model, grads = train_by_hand(rec)
    assert [f["epoch"] for f in rec.frames] == [1, 2, 3, 4]
    for f, g in zip(rec.frames, grads):
        assert f["grad_norm"] == pytest.approx(g, rel=1e-12)
        assert len(f["grid"]) == 100 and set(f["grid"]) <= set("0123456789abcdef")
    # the boundary is the model's own: the cell nearest each training point has its sign
    from nn import predict
    last = rec.frames[-1]["grid"]
    x0, x1, y0, y1 = rec.to_dict()["box"]
    for (a, b), score in zip(X[:10], predict(model, X[:10])):
        col = round((a - x0) / (x1 - x0) * 9)
        row = round((y1 - b) / (y1 - y0) * 9)
        level = int(last[row * 10 + col], 16)
        if abs(np.tanh(score)) > 0.5:  # clearly on one side
            assert (level > 7) == (score > 0)


def test_every_and_a_fixed_batch_for_the_norms_leave_grad_alone():
    X, y = moons()
    rec = TrainingRecorder(X, y, loss=lambda out, t: losses.hinge(out, 2 * t - 1), every=2)
    model = MLP(2, [6, 1], seed=1)
    for p in model.parameters():
        p.grad = 0.25
    for epoch in range(5):
        rec.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "accuracy": 0.5, "note": "skipped"}, model)
    assert [f["epoch"] for f in rec.frames] == [1, 3, 5]
    assert rec.frames[0]["logs"] == {"loss": 1.0, "accuracy": 0.5}
    assert all(p.grad == 0.25 for p in model.parameters())  # put back after the norms
    model.zero_grad()
    losses.hinge(model(X), 2 * y - 1).backward()
    want = math.sqrt(sum(p.grad ** 2 for p in model.layers[0].parameters()))
    assert rec.frames[-1]["grad_norm"]["layers.0"] == pytest.approx(want, rel=1e-12)


def test_the_callback_methods_fit_calls():
    X, y = moons()
    rec = TrainingRecorder(X, y)
    model = MLP(2, [4, 1], seed=0)
    rec.on_train_begin(model, {"loss": []})
    rec.on_epoch_end(0, {"loss": 0.5, "val_loss": float("nan")}, model)
    rec.on_train_end({"loss": [0.5], "best_epoch": 1}, model)
    d = rec.to_dict()
    assert d["best_epoch"] == 1 and d["frames"][0]["logs"] == {"loss": 0.5, "val_loss": None}
    rec.on_train_begin(model, {})  # a new run starts a new record
    assert rec.frames == []
    import inspect
    from nn import fit
    if "callbacks" not in inspect.signature(fit).parameters:
        pytest.skip("this nn.fit has no callbacks yet")
    rec = TrainingRecorder(X, y, loss=losses.binary_cross_entropy_with_logits)
    fit(model, losses.binary_cross_entropy_with_logits, optim.Adam(model.parameters(), lr=0.05), X, y,
        epochs=3, progress=False, callbacks=[rec])
    assert len(rec.frames) == 3 and "loss" in rec.frames[0]["logs"]


def test_a_multiclass_boundary_and_inputs_that_are_not_2d():
    X, y = moons()
    rec = TrainingRecorder(X, y, grid=5)
    model = MLP(2, [4, 3], seed=0)
    rec.record(model, loss=1.0)
    assert rec.to_dict()["classes"] is True and set(rec.frames[0]["grid"]) <= set("012")
    rec3 = TrainingRecorder(np.zeros((4, 3)), None)
    rec3.record(MLP(3, [2, 1], seed=0), loss=1.0)
    assert "grid" not in rec3.frames[0] and "box" not in rec3.to_dict()
    with pytest.raises(ValueError, match="nothing recorded"):
        TrainingRecorder().save_html("x.html")
    with pytest.raises(ValueError, match="every must be"):
        TrainingRecorder(every=0)


def test_the_gif(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image
    X, y = moons()
    rec = TrainingRecorder(X, y, grid=12)
    train_by_hand(rec, steps=6)
    path = rec.save_animation(tmp_path / "t.gif", max_frames=4)
    img = Image.open(path)
    assert img.format == "GIF" and img.n_frames == 4
    frames = []
    for i in range(img.n_frames):
        img.seek(i)
        frames.append(np.asarray(img.convert("L"), dtype=float))
    assert frames[0].std() > 10 and np.abs(frames[0] - frames[-1]).sum() > 0  # it moves
    with pytest.raises(ValueError, match="choose .gif or .mp4"):
        rec.save_animation(tmp_path / "t.avi")
    assert not list(tmp_path.glob(".tmp-*"))


BAD = "</script><!--<script>alert(1)//"


def test_the_page_escapes_every_user_string(tmp_path):
    X, y = moons()
    rec = TrainingRecorder(X, y, grid=6)
    model = MLP(2, [3, 1], seed=0)
    rec.record(model, **{"loss": 1.0, BAD: 0.5})
    page = rec.save_html(tmp_path / "p.html", title=BAD).read_text()
    script = page[page.index("const data"):]
    assert "<!--" not in script.split("</script>")[0] and BAD not in page
    assert html.escape(BAD) in page.split("<body")[0]
    assert not re.search(r"(src|href)\s*=", page)
    data = json.loads(re.search(r"const data = (\{.*?\});\n", page).group(1))
    assert BAD in data["frames"][0]["logs"]


def test_the_page_plays_in_a_real_browser(tmp_path, plays_in_a_browser):
    X, y = moons()
    rec = TrainingRecorder(X, y, grid=8, unit="step")
    train_by_hand(rec, steps=20)
    path = rec.save_html(tmp_path / "train.html", title=BAD)
    last, first, later = plays_in_a_browser(path)
    assert last == 20 and first == 1 and later > 1
