"""Steady-state throughput from the end time of every training step, computed alike for every
contender of bench/compare.py (trainc's step times come from its TensorBoard event file, written
at the end of each step when `log_every = 1`; the Python scripts record theirs).

The first `warmup` steps of every epoch are left out (the first step of an epoch also waits for
the loader to start, and the very first one for lazy initialisation and allocator growth): the
measurement is the samples of steps warmup+1 … last of each epoch over the time from the end of
step `warmup` to the end of the last step. Validation between epochs is never inside it.
"""
import argparse
import struct


def scene_arguments(data):
    """The command line the generated-scene scripts share (bench/torch_unet.py, torch_detector.py
    and their Lightning twins): EPOCHS, --limit-batches, --warmup, --data (default `data`), --seed.
    Returns the parser, for a script's own extra options."""
    p = argparse.ArgumentParser()
    p.add_argument("epochs", nargs="?", type=int, default=1)
    p.add_argument("--limit-batches", type=int, default=None)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--data", default=data)
    p.add_argument("--seed", type=int, default=0)
    return p


def steady(ends, sizes, per_epoch, warmup):
    """Samples/s over the steps after the first `warmup` of each epoch; None when no epoch has
    more than `warmup` steps. `ends[i]` is the wall-clock end of step i (all epochs in order),
    `sizes[i]` its batch size, `per_epoch` the steps of one epoch."""
    samples, seconds = 0, 0.0
    for start in range(0, len(ends), per_epoch):
        e, s = ends[start:start + per_epoch], sizes[start:start + per_epoch]
        if len(e) > warmup >= 1:
            samples += sum(s[warmup:])
            seconds += e[-1] - e[warmup - 1]
    return samples / seconds if seconds > 0 else None


def tensorboard_step_ends(path):
    """The wall time of the first event logged at each step of a trainc TensorBoard event file
    (src/run/tensorboard.rs: `Event { wall_time = 1; step = 2; summary = 5 }`), in step order.
    Epoch-end events repeat the last step's number and are skipped."""
    data = open(path, "rb").read()
    ends, i = {}, 0
    while i + 12 <= len(data):
        (n,) = struct.unpack_from("<Q", data, i)
        ev = data[i + 12:i + 12 + n]
        i += 12 + n + 4
        if len(ev) < 10 or ev[0] != 0x09 or ev[9] != 0x10:
            continue  # the file-version header has no step
        (wall,) = struct.unpack_from("<d", ev, 1)
        step, shift, j = 0, 0, 10
        while True:
            b = ev[j]
            step |= (b & 0x7F) << shift
            shift, j = shift + 7, j + 1
            if b < 0x80:
                break
        ends.setdefault(step, wall)
    return [ends[k] for k in sorted(ends)]
