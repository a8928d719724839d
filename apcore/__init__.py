"""apcore: the PyTorch library behind the autoencoder lecture dashboard (no Streamlit here).

Data sets (``data``), model families (``models``), one trainer (``train``), the checkpoint cache
(``cache``), background jobs (``jobs``), metrics (``metrics``), page defaults (``defaults``) and the
transposed convolution worked by hand (``tconv``).
"""

import os

# OpenMP threads that wait at a barrier spin (GNU libgomp: ~300,000 times) before sleeping. When
# another process wants the same cores (the app's server, a browser, a second training) a spinning
# thread takes the core from the thread it waits for, and a training step on 2 cores measured 8-25x
# slower (ae-mlp at batch 256: 12 ms alone; 93-330 ms beside another process). With 1,000 spins:
# 12 ms alone, 26-37 ms beside it. libgomp reads this when torch first loads, so it is set here,
# before any apcore module imports torch; a value already in the environment is left as it is.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")

from .config import ConfigError, ModelConfig  # noqa: E402

__all__ = ["ConfigError", "ModelConfig"]
