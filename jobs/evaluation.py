"""In-process loss of a model on a split of a prepared dataset (the driver's validation step)."""
from jobs.batches import iter_batches
from rnn_core import loss_only


def split_loss(dataset, split, cfg, theta, batch_size=64):
    """Forward-only loss over every chunk of ``split``.

    Returns (loss_sum, count, bad_counts): the summed loss, the number of scored steps and
    {reason: n} of the records skipped as bad.
    """
    bad_counts = {}
    loss_sum = count = 0.0
    chunks = dataset.iter_chunks(split, cfg, bad_counts)
    for inputs, targets, mask in iter_batches(chunks, cfg, batch_size):
        batch_loss, batch_count = loss_only(theta, cfg, inputs, targets, mask)
        loss_sum += batch_loss
        count += batch_count
    return loss_sum, count, bad_counts
