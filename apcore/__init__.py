"""apcore: the PyTorch library behind the autoencoder lecture dashboard (no Streamlit here).

Data sets (``data``), model families (``models``), one trainer (``train``), the checkpoint cache
(``cache``), background jobs (``jobs``), metrics (``metrics``), page defaults (``defaults``) and the
transposed convolution worked by hand (``tconv``).
"""

import os

# OpenMP threads that wait at a barrier spin (GNU libgomp: ~300,000 times) before sleeping. When
# another process wants the same cores (the app's server, a browser, a second training) a spinning
# thread takes the core from the thread it waits for: a 2-thread step of the MLP AE at batch 256
# went from 12 ms alone to 93-330 ms beside a busy process (AMD EPYC; 6.9 -> 265-490 ms on an Intel
# Xeon). Too few spins cost the other way: a thread that went to sleep between two of a step's
# parallel regions must be woken for the next, and on the Intel Xeon (a VM: a wake-up is slow) at
# 1,000 spins the step took 11.1 ms alone, slower than one thread (8.2 ms). Measured there, alone /
# beside a busy process (ms): 1,000 spins 11.1 / 11.6, 2,000 9.2 / 14.4, 5,000 7.1 / 20.1, 10,000
# 7.4 / 28.7; the page defaults trained 1.2-1.4x faster at 5,000 than at 1,000
# (bench/train_defaults.py: the 14 in 140-166 s over three runs against 200 s). The worker gives a
# core back while another process wants it (apcore.cores), so it does not pay the busy figure.
# Alone, more spins are faster still: one epoch of the 20-d MLP VAE 1.61-1.79 s at 5,000, 1.38-1.47 s
# at 50,000 and libgomp's default (Intel Xeon, session 15). Not taken: with 50,000 for the server and
# its worker (``GOMP_SPINCOUNT=50000 python3 bench/retrain.py``, against 5,000 in the same hour) the
# command line's training was 0.90x, but a Retrain watched by one tab 1.11x as long (7.9 -> 8.8 s)
# and by eight tabs 1.18x (13.1 -> 15.5 s: 1.44x the command line, over issue 10's 1.3). 50,000 for
# the worker alone (the server at 5,000; three runs each, one after the other): Retrain watched by one
# tab 9.4 s against 7.1, by eight 14.7 against 12.3 (in a slower hour: the command line 13.4 s / 12.1);
# 20,000 for the worker: 7.6 / 13.5 s against 7.0 / 9.9. Why spins matter alone: at 5,000 the second
# thread falls asleep ~19 times in each optimiser step of the 20-d VAE (`perf stat -e context-switches`:
# ~19,000 more over 1,000 steps; at libgomp's default none), at each stretch of one-threaded work.
# libgomp reads this when torch first loads, so it is set here, before any apcore module imports
# torch; a value already in the environment is left as it is.
os.environ.setdefault("GOMP_SPINCOUNT", "5000")

from .config import ConfigError, ModelConfig  # noqa: E402

__all__ = ["ConfigError", "ModelConfig"]
