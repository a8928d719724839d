"""apcore: the PyTorch library behind the autoencoder lecture dashboard (no Streamlit here).

Data sets (``data``), model families (``models``), one trainer (``train``), the checkpoint cache
(``cache``), background jobs (``jobs``), metrics (``metrics``), page defaults (``defaults``) and the
transposed convolution worked by hand (``tconv``).
"""

from .config import ConfigError, ModelConfig

__all__ = ["ConfigError", "ModelConfig"]
