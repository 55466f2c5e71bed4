"""Plotting: training and validation loss per epoch of a run, as a PNG (``hadoop-rnn plot``).

Reads the history stored in the run's newest checkpoint (the same numbers as
metrics.jsonl). Needs matplotlib, an optional extra: ``pip install 'hadoop-rnn[plot]'``.
"""
import os

from jobs.run.trained import RunError, load_trained_state

LOSS_LABELS = {"tokens": "loss (nats per character)",
               "series": "loss (squared error per step, normalized units)"}


def import_pyplot():
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("plotting needs matplotlib: pip install 'hadoop-rnn[plot]' "
                           "(or pip install matplotlib)") from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    return plt


def plot_history(history, model, title, out):
    """Draw train_loss and valid_loss against epoch into ``out``."""
    plt = import_pyplot()
    epochs = [m["epoch"] for m in history]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    ax.plot(epochs, [m["train_loss"] for m in history], "o-", label="training (during the epoch)")
    valid = [(m["epoch"], m["valid_loss"]) for m in history if m.get("valid_loss") is not None]
    if valid:
        ax.plot(*zip(*valid), "s-", label="validation (after the epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel(LOSS_LABELS[model.kind])
    ax.set_title(title)
    if len(epochs) <= 20:
        ax.set_xticks(epochs)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def plot_path(out):
    """The file to write for ``--out``: ``.png`` added to a name without extension.

    An existing directory is refused (the figure would land beside or inside it by surprise).
    """
    if os.path.isdir(out):
        raise ValueError(f"--out {out} is a directory: name the PNG file to write, e.g. "
                         f"{os.path.join(out, 'loss.png')}")
    return out if os.path.splitext(out)[1] else out + ".png"


def plot_run(run, out, title=None):
    """Plot the loss history of the run in ``run`` into the PNG file ``out``.

    Returns (the path written, the history plotted); see :func:`plot_path`.
    """
    out = plot_path(out)
    state = load_trained_state(run)
    if not state.history:
        raise RunError(f"{run} has no completed epoch to plot")
    title = title or (f"{state.model.cell.upper()} {state.model.hidden}x{state.model.layers}"
                      f" on {os.path.basename(os.path.normpath(run))}: loss per epoch")
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    plot_history(state.history, state.model, title, out)
    return out, state.history
