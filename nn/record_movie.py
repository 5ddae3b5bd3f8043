"""The training record as an animated GIF or MP4, drawn with matplotlib (see nn.record)."""
from __future__ import annotations

import numpy as np


def save_animation(rec, path, fps, max_frames, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import animation
    except ImportError:
        raise RuntimeError("an animation needs matplotlib: pip install matplotlib") from None
    ext = path.suffix.lower()
    writer = None
    if ext == ".mp4":
        if not animation.writers.is_available("ffmpeg"):
            raise RuntimeError("an MP4 needs ffmpeg on PATH; write a .gif instead (no extra program)")
        writer = animation.FFMpegWriter(fps=fps)
    elif ext != ".gif":
        raise ValueError(f"{path}: choose .gif or .mp4")
    d = rec.to_dict()
    frames = d["frames"]
    picks = sorted(set(np.linspace(0, len(frames) - 1, min(max_frames, len(frames))).round().astype(int)))
    epochs = [f["epoch"] for f in frames]
    has_box = "box" in d
    fig, axes = plt.subplots(1, 3 if has_box else 2, figsize=(12 if has_box else 8.5, 3.6), dpi=72)
    fig.suptitle(title, fontsize=10)
    ax_b = axes[0] if has_box else None
    ax_l, ax_g = axes[-2], axes[-1]
    loss_names = [k for k in frames[0]["logs"] if "loss" in k] or list(frames[0]["logs"])[:1]
    curves = {k: np.array([np.nan if f["logs"].get(k) is None else f["logs"][k] for f in frames]) for k in loss_names}
    norms = {k: np.array([np.nan if f["grad_norm"].get(k) is None else f["grad_norm"][k] for f in frames])
             for k in d["layers"]}
    lines = {}
    for ax, data, ylabel in ((ax_l, curves, "loss"), (ax_g, norms, "gradient norm")):
        for name, ys in data.items():
            ax.plot(epochs, ys, alpha=0.25, lw=1)
            lines[(ax, name)] = ax.plot([], [], lw=2, label=name, color=ax.lines[-1].get_color())[0]
        if any(np.nanmin(ys) > 0 for ys in data.values() if np.isfinite(ys).any()):
            ax.set_yscale("log")
        ax.set_xlabel(d["unit"])
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
        if d.get("best_epoch"):
            ax.axvline(d["best_epoch"], color="#2c7a2c", ls="--", lw=1)
    cursor = [ax.axvline(epochs[0], color="#888", lw=0.8) for ax in (ax_l, ax_g)]
    image = None
    if has_box:
        x0, x1, y0, y1 = d["box"]
        m = d["grid"]
        levels = np.array([[int(c, 16) for c in frames[0]["grid"]]], float).reshape(m, m)
        image = ax_b.imshow(levels, extent=(x0, x1, y0, y1), cmap="tab10" if d["classes"] else "RdYlBu_r",
                            vmin=0, vmax=9 if d["classes"] else 15, alpha=0.75, aspect="auto")
        pts = np.array(d["points"])
        points = ax_b.scatter(pts[:, 0], pts[:, 1], c=d["labels"] or "k", cmap="coolwarm", s=10,
                              edgecolors="k", linewidths=0.3)
        ax_b.set_title("decision boundary", fontsize=9)
    fig.tight_layout()
    label = ax_b.text(0.02, 0.97, "", transform=ax_b.transAxes, va="top", fontsize=9) if has_box else None
    moving = list(lines.values()) + cursor + ([image, points, label] if has_box else [])

    def update(i):
        f = frames[i]
        for (ax, name), line in lines.items():
            data = curves if ax is ax_l else norms
            line.set_data(epochs[:i + 1], data[name][:i + 1])
        for c in cursor:
            c.set_xdata([f["epoch"], f["epoch"]])
        if has_box:
            image.set_data(np.array([int(c, 16) for c in f["grid"]], float).reshape(d["grid"], d["grid"]))
            label.set_text(f"{d['unit']} {f['epoch']}")

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    try:
        if ext == ".gif":  # draw the still parts once, then only what moves (seconds, not minutes)
            from PIL import Image
            for a in moving:
                a.set_animated(True)
            fig.canvas.draw()
            background = fig.canvas.copy_from_bbox(fig.bbox)
            shots = []
            for i in picks:
                update(i)
                fig.canvas.restore_region(background)
                for a in moving:
                    a.axes.draw_artist(a)
                shots.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
                             .convert("P", palette=Image.ADAPTIVE, colors=128))
            shots[0].save(tmp, format="GIF", save_all=True, append_images=shots[1:],
                          duration=int(1000 / fps), loop=0)
        else:
            animation.FuncAnimation(fig, lambda i: update(i) or [], frames=picks).save(
                str(tmp), writer=writer, dpi=72)
        tmp.replace(path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()
    return path
